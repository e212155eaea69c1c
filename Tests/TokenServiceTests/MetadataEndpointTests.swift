import Foundation
import HTTPTypes
import NIOCore
import JOSE
import JSONCore
import Testing
@testable import TokenService

@Suite struct MetadataEndpointTests {
    @Test func discoveryDocument() async throws {
        try await Fixture.withRouterClient { f, client, _ in
            try await client.execute(uri: "/.well-known/openid-configuration", method: .get) { res in
                #expect(res.status == .ok)
                let d = res.json
                #expect(d["issuer"] == .string(f.issuer))
                #expect(d["token_endpoint"] == .string(f.issuer + "/oauth/token"))
                #expect(d["jwks_uri"] == .string(f.issuer + "/.well-known/jwks.json"))
                #expect(d["introspection_endpoint"] == .string(f.issuer + "/oauth/introspect"))
                #expect(d["authorization_endpoint"] != nil)
                #expect(d["grant_types_supported"]?.arrayValue?.contains("client_credentials") == true)
                #expect(d["id_token_signing_alg_values_supported"]?.arrayValue?.contains("RS256") == true)
                #expect(d["token_endpoint_auth_methods_supported"]?.arrayValue?.contains("private_key_jwt") == true)
                for key in ["response_types_supported", "subject_types_supported", "scopes_supported", "claims_supported"] {
                    #expect(d[key]?.arrayValue?.isEmpty == false, "\(key)")
                }
            }
        }
    }

    @Test func jwksPublishesPublicKeysOnly() async throws {
        try await Fixture.withRouterClient { f, client, _ in
            try await client.execute(uri: "/.well-known/jwks.json", method: .get) { res in
                #expect(res.status == .ok)
                let keys = try #require(res.json["keys"]?.arrayValue)
                let kids = keys.compactMap { $0.objectValue?["kid"]?.stringValue }
                #expect(Set(kids) == ["rs-1", "rs-0", "es-1"], "retiring keys stay listed; HMAC keys never appear")
                let text = String(buffer: res.body)
                for secret in ["\"d\"", "\"p\"", "\"q\"", "\"k\"", "\"dp\""] { #expect(!text.contains(secret)) }
                for k in keys {
                    let o = try #require(k.objectValue)
                    #expect(o["use"] == "sig")
                    #expect(o["alg"] != nil)
                    _ = try JWSKey(jwk: try JWK(json: k))
                }
            }
        }
    }

    @Test func introspection() async throws {
        let f = try Fixture()
        defer { f.cleanUp() }
        let (app, core, engine) = try await f.application()
        defer { engine.shutdown() }
        let state = core.holder.current
        // A token signed by the retiring key still introspects as active; an expired one does not.
        let retiring = try #require(state.keys.all["rs-0"])
        let old = try JWSSigner(key: retiring, typ: "at+jwt").sign(claims: [
            "iss": .string(f.issuer), "sub": "x", "client_id": "billing", "exp": .int(Int64(Date().timeIntervalSince1970) + 60)])
        let expired = try JWSSigner(key: retiring, typ: "at+jwt").sign(claims: [
            "iss": .string(f.issuer), "sub": "x", "exp": .int(Int64(Date().timeIntervalSince1970) - 60)])
        let foreign = try JWSSigner(key: try JWSKey(secret: secureRandomBytes(32), algorithm: .HS256, kid: "hs-1"), typ: nil)
            .sign(claims: ["iss": .string(f.issuer), "exp": .int(Int64(Date().timeIntervalSince1970) + 60)])
        try await app.test { client in
            let token = try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic("billing", f.billingSecret),
                                                 body: Form.encode([("grant_type", "client_credentials")])) { try #require($0.json["access_token"]?.stringValue) }
            func introspect(_ t: String) async throws -> TestResponse {
                try await client.execute(uri: "/oauth/introspect", method: .post, headers: Form.basic("billing", f.billingSecret),
                                         body: Form.encode([("token", t)])) { $0 }
            }
            let active = try await introspect(token)
            #expect(active.status == .ok)
            #expect(active.json["active"] == true)
            #expect(active.json["client_id"] == "billing")
            #expect(try await introspect(old).json["active"] == true)
            for bad in [expired, foreign, "garbage", token + "x"] {
                let r = try await introspect(bad)
                #expect(r.status == .ok)
                #expect(r.json == ["active": false])
            }
            let unauth = try await client.execute(uri: "/oauth/introspect", method: .post, headers: Form.headers,
                                                  body: Form.encode([("token", token)])) { $0 }
            #expect(unauth.status == .unauthorized)
        }
    }

    @Test func healthAndMetrics() async throws {
        try await Fixture.withRouterClient { f, client, _ in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic("billing", f.billingSecret),
                                     body: Form.encode([("grant_type", "client_credentials")])) { #expect($0.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { res in
                let text = String(buffer: res.body)
                #expect(text.contains(#"tokenservice_http_requests_total{endpoint="/oauth/token",status="200"} 1"#))
                #expect(text.contains("tokenservice_http_request_duration_seconds_bucket"))
                #expect(text.contains(#"tokenservice_tokens_issued_total{client_id="billing",alg="RS256",type="access_token"} 1"#))
                #expect(!text.contains(f.billingSecret))
            }
        }
    }

    /// The pipeline worker processes running, by role: core workers once a pipeline is loaded, no spare
    /// while none is stuck.
    @Test func metricsCountThePipelineWorkers() async throws {
        let fn = "async function pipe(user, context, callback) { context.addAccessToken('tag', 1); callback(null, user, context); }"
        try await Fixture.withRouterClient(pipelines: ["pre_access_token": [(name: "tag", source: fn, extra: [:])]]) { f, client, core in
            try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic("billing", f.billingSecret),
                                     body: Form.encode([("grant_type", "client_credentials")])) { #expect($0.status == .ok) }
            let running = try #require(core.issuer.engine).runningWorkers()
            #expect(running.core >= 1 && running.spare == 0)
            try await client.execute(uri: "/metrics", method: .get) { res in
                let text = String(buffer: res.body)
                #expect(text.contains(#"tokenservice_pipeline_workers{role="core"} \#(running.core)"#), "\(text)")
                #expect(text.contains(#"tokenservice_pipeline_workers{role="spare"} 0"#))
            }
        }
    }
}
