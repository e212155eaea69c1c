import Foundation
import HTTPTypes
import JOSE
import JSONCore
import Testing
@testable import TokenService

/// Token exchange (RFC 8693) and signed introspection (RFC 9701).
@Suite struct TokenExchangeTests {
    static let urn = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let accessType = "urn:ietf:params:oauth:token-type:access_token"
    static let idType = "urn:ietf:params:oauth:token-type:id_token"

    static func withExchanger(pipelines: [String: [(name: String, source: String, extra: JSONObject)]] = [:],
                              mutate: @escaping (inout JSONObject) -> Void = { _ in },
                              _ body: @escaping @Sendable (Fixture, any TestClientProtocol, ServiceCore) async throws -> Void) async throws {
        try await Fixture.withRouterClient(pipelines: pipelines, mutate: { config in
            config.addClient(["client_id": "exchanger", "client_secret": "billing-secret-0123456789abcdef0123",
                              "grant_types": [.string(urn), "client_credentials"], "scopes": ["invoices:read", "invoices:write", "openid"],
                              "audiences": ["https://downstream.example.com", "https://api.example.com"],
                              "token_exchange": ["subject_audiences": ["https://api.example.com", "https://downstream.example.com"]]])
            mutate(&config)
        }, body)
    }

    static func token(_ client: some TestClientProtocol, _ f: Fixture, as id: String = "billing", scope: String = "invoices:read invoices:write",
                      audience: String? = nil) async throws -> String {
        try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic(id, f.billingSecret),
                                 body: Form.encode([("grant_type", "client_credentials"), ("scope", scope)] + (audience.map { [("audience", $0)] } ?? []))) {
            try #require($0.json["access_token"]?.stringValue)
        }
    }

    static func exchange(_ client: some TestClientProtocol, _ f: Fixture, as id: String = "exchanger", _ params: [(String, String)]) async throws
        -> (HTTPResponse.Status, JSONObject)
    {
        try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic(id, f.billingSecret),
                                 body: Form.encode([("grant_type", urn)] + params)) { ($0.status, $0.json) }
    }

    @Test func impersonationDelegationAndAChain() async throws {
        try await Self.withExchanger { f, client, core in
            let subject = try await Self.token(client, f)
            let (status, body) = try await Self.exchange(client, f, [("subject_token", subject), ("subject_token_type", Self.accessType),
                                                                   ("audience", "https://downstream.example.com"), ("scope", "invoices:read")])
            #expect(status == .ok, "\(body)")
            #expect(body["issued_token_type"] == .string(Self.accessType))
            #expect(body["token_type"] == "Bearer")
            let first = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core)
            #expect(first.header["typ"] == "at+jwt")
            #expect(first.claims["sub"] == "billing" && first.claims["client_id"] == "exchanger")
            #expect(first.claims["aud"] == "https://downstream.example.com" && first.claims["scope"] == "invoices:read")
            #expect(first.claims["act"] == ["sub": "exchanger"])

            // Delegation: the actor token (the caller's own) names who acts.
            let actor = try await Self.token(client, f, as: "exchanger", scope: "invoices:read")
            let delegated = try await Self.exchange(client, f, [("subject_token", subject), ("subject_token_type", Self.accessType),
                                                                ("actor_token", actor), ("actor_token_type", Self.accessType)])
            #expect(delegated.0 == .ok, "\(delegated.1)")
            let d = try TokenEndpointTests.verify(try #require(delegated.1["access_token"]?.stringValue), core)
            #expect(d.claims["act"] == ["sub": "exchanger"])
            #expect(d.claims["scope"] == "invoices:read invoices:write", "default: the subject's scopes within the client's")

            // A chain: the exchanged token exchanged again nests the earlier actor.
            let chained = try await Self.exchange(client, f, [("subject_token", try #require(body["access_token"]?.stringValue)),
                                                              ("subject_token_type", Self.accessType)])
            #expect(chained.0 == .ok, "\(chained.1)")
            let c = try TokenEndpointTests.verify(try #require(chained.1["access_token"]?.stringValue), core)
            #expect(c.claims["act"] == ["sub": "exchanger", "act": ["sub": "exchanger"]])
            #expect(c.claims["sub"] == "billing")

            let discovery = try await client.execute(uri: "/.well-known/openid-configuration", method: .get) { $0.json }
            #expect(discovery["grant_types_supported"]?.arrayValue?.contains(.string(Self.urn)) == true)
        }
    }

    @Test func anIDTokenAsSubject() async throws {
        try await Self.withExchanger(mutate: { config in
            var clients = config["clients"]?.arrayValue ?? []
            for i in clients.indices where clients[i].objectValue?["client_id"] == "web-app" {
                var web = clients[i].objectValue ?? [:]
                web["grant_types"] = .array((web["grant_types"]?.arrayValue ?? []) + [.string(Self.urn)])
                web["client_secret_sha256"] = nil
                web["client_secret"] = "billing-secret-0123456789abcdef0123"
                clients[i] = .object(web)
            }
            config["clients"] = .array(clients)
        }) { f, client, core in
            let minted = try await client.execute(uri: "/v1/tokens", method: .post,
                                                  headers: [.authorization: "Bearer \(f.gatewayToken)", .contentType: "application/json"],
                                                  body: .init(string: #"{"client_id":"web-app","grant_type":"authorization_code","scope":"openid","user":{"id":"u-7"}}"#)) { $0.json }
            let idToken = try #require(minted["id_token"]?.stringValue)
            let ok = try await Self.exchange(client, f, as: "web-app", [("subject_token", idToken), ("subject_token_type", Self.idType)])
            #expect(ok.0 == .ok, "\(ok.1)")
            #expect(try TokenEndpointTests.verify(try #require(ok.1["access_token"]?.stringValue), core).claims["sub"] == "u-7")
            let wrongType = try await Self.exchange(client, f, as: "web-app", [("subject_token", idToken), ("subject_token_type", Self.accessType)])
            #expect(wrongType.0 == .badRequest && wrongType.1["error"] == "invalid_grant")
            for type in [Self.idType, "urn:ietf:params:oauth:token-type:jwt"] {
                let other = try await Self.exchange(client, f, [("subject_token", idToken), ("subject_token_type", type)])
                #expect(other.0 == .badRequest && other.1["error"] == "invalid_grant", "another client's ID token as \(type): \(other)")
            }
        }
    }

    @Test func refusals() async throws {
        try await Self.withExchanger { f, client, core in
            let subject = try await Self.token(client, f)
            let state = core.holder.current
            let signer = try #require(state.keys.signers(for: nil)).accessToken
            let now = Int64(Date().timeIntervalSince1970)
            let expired = try signer.sign(claims: ["iss": .string(f.issuer), "sub": "billing", "exp": .int(now - 600), "scope": "invoices:read"])
            let foreignKey = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "es-1")
            let foreign = try JWSSigner(key: foreignKey, typ: "at+jwt").sign(claims: ["iss": .string(f.issuer), "sub": "x", "exp": .int(now + 600)])
            let otherIssuer = try signer.sign(claims: ["iss": "https://elsewhere.example.com", "sub": "x", "exp": .int(now + 600)])
            var parts = subject.split(separator: ".").map(String.init)
            parts[1] = Base64URL.encode(Array(#"{"iss":"\#(f.issuer)","sub":"admin","exp":\#(now + 600),"scope":"invoices:write"}"#.utf8))
            let tampered = parts.joined(separator: ".")
            let cases: [(String, [(String, String)], HTTPResponse.Status, String)] = [
                ("expired", [("subject_token", expired), ("subject_token_type", Self.accessType)], .badRequest, "invalid_grant"),
                ("foreign key", [("subject_token", foreign), ("subject_token_type", Self.accessType)], .badRequest, "invalid_grant"),
                ("foreign issuer", [("subject_token", otherIssuer), ("subject_token_type", Self.accessType)], .badRequest, "invalid_grant"),
                ("tampered", [("subject_token", tampered), ("subject_token_type", Self.accessType)], .badRequest, "invalid_grant"),
                ("wider scope", [("subject_token", subject), ("subject_token_type", Self.accessType), ("scope", "invoices:read reports:read")],
                 .badRequest, "invalid_scope"),
                ("audience not allowed", [("subject_token", subject), ("subject_token_type", Self.accessType), ("audience", "https://evil.example.com")],
                 .badRequest, "invalid_target"),
                ("no subject token", [("subject_token_type", Self.accessType)], .badRequest, "invalid_request"),
                ("no subject token type", [("subject_token", subject)], .badRequest, "invalid_request"),
                ("unsupported type", [("subject_token", subject), ("subject_token_type", "urn:ietf:params:oauth:token-type:saml2")],
                 .badRequest, "invalid_request"),
                ("actor type without actor", [("subject_token", subject), ("subject_token_type", Self.accessType), ("actor_token_type", Self.accessType)],
                 .badRequest, "invalid_request"),
            ]
            for (name, params, status, error) in cases {
                let (s, body) = try await Self.exchange(client, f, params)
                #expect(s == status && body["error"] == .string(error), "\(name): \(s) \(body)")
            }
            let notAllowed = try await Self.exchange(client, f, as: "billing", [("subject_token", subject), ("subject_token_type", Self.accessType)])
            #expect(notAllowed.0 == .badRequest && notAllowed.1["error"] == "unauthorized_client")
        }
    }

    /// The contract's exchange policy: each case was accepted before it (a red-team finding).
    @Test func whoMayExchangeWhat() async throws {
        try await Self.withExchanger { f, client, core in
            let state = core.holder.current
            let rs = try #require(state.keys.signers(for: nil)).accessToken
            let now = Int64(Date().timeIntervalSince1970)
            func signed(_ extra: JSONObject, signer: JWSSigner? = nil) throws -> String {
                var claims: JSONObject = ["iss": .string(f.issuer), "sub": "victim", "client_id": "billing", "aud": "https://other.example.com",
                                          "exp": .int(now + 600), "scope": "invoices:read"]
                for (k, v) in extra { claims[k] = v }
                return try (signer ?? rs).sign(claims: claims)
            }
            let forOther = try await Self.token(client, f, audience: "https://other.example.com")
            let hmacSigner = JWSSigner(key: try #require(state.keys.all["hs-1"]), typ: "at+jwt")
            let forged = try signed(["sub": "admin", "aud": "https://api.example.com"], signer: hmacSigner)
            let victimsOwn = try await Self.token(client, f)
            var deep: JSONValue = ["sub": "a0"]
            for i in 1..<4 { deep = ["sub": .string("a\(i)"), "act": deep] }
            let cases: [(String, [(String, String)])] = [
                ("another client's token for an audience the caller does not serve", [("subject_token", forOther)]),
                ("a token signed with an HMAC key (backends hold those)", [("subject_token", forged)]),
                ("someone else's token as actor_token", [("subject_token", victimsOwn), ("actor_token", forOther), ("actor_token_type", Self.accessType)]),
                ("a chain past max_chain (4)", [("subject_token", try signed(["aud": "https://api.example.com", "act": deep]))]),
                ("a subject past its exp (within the clock leeway)", [("subject_token", try signed(["aud": "https://api.example.com", "exp": .int(now - 5)]))]),
                ("a DPoP-bound subject without a proof", [("subject_token", try signed(["aud": "https://api.example.com", "cnf": ["jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"]]))]),
            ]
            for (name, params) in cases {
                let (status, body) = try await Self.exchange(client, f, params + [("subject_token_type", Self.accessType)])
                #expect(status == .badRequest && body["error"] == "invalid_grant", "\(name): \(status) \(body)")
            }

            // may_act names the caller: allowed even for another audience.
            let mayAct = try await Self.exchange(client, f, [("subject_token", try signed(["may_act": ["sub": "exchanger"]])), ("subject_token_type", Self.accessType)])
            #expect(mayAct.0 == .ok, "\(mayAct.1)")

            // Never outlives the subject.
            let shortLived = try signed(["aud": "https://api.example.com", "exp": .int(now + 120)])
            let (status, body) = try await Self.exchange(client, f, [("subject_token", shortLived), ("subject_token_type", Self.accessType)])
            #expect(status == .ok, "\(body)")
            let exchanged = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core)
            #expect((exchanged.claims["exp"]?.intValue ?? .max) <= now + 120)
            #expect((body["expires_in"]?.intValue ?? .max) <= 120)

            // Scope as every grant: syntax checked, duplicates folded.
            let dup = try await Self.exchange(client, f, [("subject_token", victimsOwn), ("subject_token_type", Self.accessType), ("scope", "invoices:read invoices:read")])
            #expect(dup.0 == .ok && dup.1["scope"] == "invoices:read", "\(dup.1)")
            let malformed = try await Self.exchange(client, f, [("subject_token", victimsOwn), ("subject_token_type", Self.accessType), ("scope", "invoices:read \"x")])
            #expect(malformed.0 == .badRequest && malformed.1["error"] == "invalid_scope")
        }
    }

    @Test func aDPoPBoundSubjectStaysBoundToItsKey() async throws {
        try await Self.withExchanger { f, client, core in
            let endpoint = core.holder.current.tokenEndpoint
            let key = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "holder")
            let other = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "other")
            let (_, issued) = try await DPoPTests.post(client, f, proof: try key.dpopProof(htu: endpoint))
            let subject = try #require(issued["access_token"]?.stringValue)
            func exchange(proof: String) async throws -> (HTTPResponse.Status, JSONObject) {
                var headers = Form.basic("exchanger", f.billingSecret)
                headers[.dpop] = proof
                return try await client.execute(uri: "/oauth/token", method: .post, headers: headers,
                                                body: Form.encode([("grant_type", Self.urn), ("subject_token", subject),
                                                                   ("subject_token_type", Self.accessType)])) { ($0.status, $0.json) }
            }
            let wrongKey = try await exchange(proof: try other.dpopProof(htu: endpoint))
            #expect(wrongKey.0 == .badRequest && wrongKey.1["error"] == "invalid_grant", "\(wrongKey.1)")
            let (status, body) = try await exchange(proof: try key.dpopProof(htu: endpoint))
            #expect(status == .ok && body["token_type"] == "DPoP", "\(body)")
            let bound = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core)
            #expect(bound.claims["cnf"] == (try TokenEndpointTests.verify(subject, core)).claims["cnf"])
        }
    }

    @Test func thePipelineSeesTheSubjectToken() async throws {
        let fn = """
            function pipe(user, context, callback) {
              if (context.grantType === 'urn:ietf:params:oauth:grant-type:token-exchange') {
                context.addAccessToken('on_behalf_of', context.subjectToken.sub);
                context.addAccessToken('act', 'forged');
                context.addAccessToken('seen', [context.protocol, typeof context.request, context.ip === context.request.ip,
                                                context.request.body.subject_token === undefined, context.appName]);
              }
              callback(null, user, context);
            }
            """
        try await Self.withExchanger(pipelines: ["pre_access_token": [(name: "obo", source: fn, extra: [:])]]) { f, client, core in
            let subject = try await Self.token(client, f)
            let (status, body) = try await Self.exchange(client, f, [("subject_token", subject), ("subject_token_type", Self.accessType)])
            #expect(status == .ok, "\(body)")
            let t = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core)
            #expect(t.claims["on_behalf_of"] == "billing")
            #expect(t.claims["act"] == ["sub": "exchanger"], "a pipeline cannot forge act")
            #expect(t.claims["seen"] == ["oauth", "object", true, true, "exchanger"], "the context every grant gets, without the tokens")
        }
    }

    @Test func signedIntrospection() async throws {
        try await Self.withExchanger { f, client, core in
            let token = try await Self.token(client, f)
            var headers = Form.basic("billing", f.billingSecret)
            headers[.accept] = "application/token-introspection+jwt"
            let (status, type, body) = try await client.execute(uri: "/oauth/introspect", method: .post, headers: headers,
                                                                body: Form.encode([("token", token)])) {
                ($0.status, $0.headers[.contentType], String(buffer: $0.body))
            }
            #expect(status == .ok)
            #expect(type == "application/token-introspection+jwt")
            let v = try JWSVerifier(keys: core.holder.current.keys.all).verify(body)
            #expect(v.header["typ"] == "token-introspection+jwt")
            #expect(v.key.publicJWK != nil, "signed with a published key")
            #expect(v.claims["iss"] == .string(f.issuer) && v.claims["aud"] == "billing" && v.claims["iat"]?.intValue != nil)
            let inner = try #require(v.claims["token_introspection"]?.objectValue)
            #expect(inner["active"] == true && inner["sub"] == "billing")
        }
    }
}
