import Foundation
import HTTPTypes
import JOSE
import JSONCore
import Testing
import TestSupport
@testable import TokenService

/// Workload identity as client authentication: platform tokens of trusted issuers (a Kubernetes-style
/// issuer and a SPIFFE bundle endpoint, served on loopback by Tests/e2e/platform_issuer.py, tokens minted
/// with PyJWT) authenticate the clients their subjects map to. Serialized: each test starts a Python server
/// and an application, and together they would crowd the machine every other suite starts on.
@Suite(.serialized) struct WorkloadIdentityTests {
    static let audience = "https://tokens.example.com"
    static let bearer = WorkloadIdentity.bearerAssertionType
    static let spiffe = WorkloadIdentity.spiffeAssertionType
    static let api = "system:serviceaccount:payments:api"

    static func withPlatform(_ body: @escaping @Sendable (Fixture, any TestClientProtocol, ServiceCore, PlatformIssuer) async throws -> Void)
        async throws
    {
        let platform = try await PlatformIssuer.start()
        try await Fixture.withRouterClient(mutate: { config in
            config["trusted_issuers"] = [
                ["issuer": .string(platform.issuer("k8s")), "audience": .string(audience), "jwks_min_refetch_seconds": 1,
                 "subjects": [.init(stringLiteral: api): "payments-api", "system:serviceaccount:batch:*": "batch-jobs"]],
                ["issuer": .string(platform.issuer("strict")), "audience": .string(audience),
                 "subjects": ["system:serviceaccount:strict:svc": "payments-api"]],
                ["issuer": .string(platform.issuer("once")), "audience": .string(audience), "one_time": true,
                 "subjects": ["system:serviceaccount:once:svc": "payments-api"]],
                ["issuer": "spiffe://example.org", "jwks_uri": .string(platform.issuer("spire") + "/bundle"), "audience": .string(audience),
                 "subjects": ["spiffe://example.org/ns/payments/sa/api": "payments-api"]],
            ]
            config["transaction_tokens"] = ["trust_domains": ["trust.example"]]
            // The refusals below are many failed authentications of one client from one address.
            config["limits"] = ["failed_auth_per_minute": ["client": 1000, "address": 1000]]
            config.addClient(["client_id": "payments-api", "grant_types": ["client_credentials", .string(TokenExchangeTests.urn)],
                              "scopes": ["payments:write", "orders"], "audiences": ["https://api.example.com"],
                              "transaction_tokens": ["allowed": true]])
            config.addClient(["client_id": "batch-jobs", "grant_types": ["client_credentials"], "scopes": ["reports:read"],
                              "audiences": ["https://api.example.com"]])
        }) { f, client, core in try await body(f, client, core, platform) }
    }

    static func post(_ client: some TestClientProtocol, _ params: [(String, String)]) async throws -> (HTTPResponse.Status, JSONObject) {
        try await client.execute(uri: "/oauth/token", method: .post, headers: Form.headers, body: Form.encode(params)) { ($0.status, $0.json) }
    }

    static func clientCredentials(_ client: some TestClientProtocol, _ assertion: String, type: String = bearer,
                                  extra: [(String, String)] = []) async throws -> (HTTPResponse.Status, JSONObject) {
        try await post(client, [("grant_type", "client_credentials"), ("client_assertion_type", type), ("client_assertion", assertion)] + extra)
    }

    @Test func platformTokensAuthenticateTheirMappedClient() async throws {
        try await Self.withPlatform { f, client, core, platform in
            let discovery = try await client.execute(uri: "/.well-known/openid-configuration", method: .get) { $0.json }
            #expect(discovery["client_assertion_types_supported"] == [.string(Self.bearer), .string(Self.spiffe)])
            let sa = try await platform.mint("k8s", claims: ["sub": .string(Self.api), "aud": [.string(Self.audience)]])
            let (status, body) = try await Self.clientCredentials(client, sa)
            #expect(status == .ok, "\(body)")
            let claims = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core).claims
            #expect(claims["client_id"] == "payments-api" && claims["sub"] == "payments-api")
            #expect(claims["scope"] == "payments:write orders")
            // Platform tokens are reused until they expire (unless the issuer's entry says one_time).
            #expect(try await Self.clientCredentials(client, sa, extra: [("client_id", "payments-api")]).0 == .ok)

            let nightly = try await platform.mint("k8s", claims: ["sub": "system:serviceaccount:batch:nightly", "aud": .string(Self.audience)])
            let batch = try await Self.clientCredentials(client, nightly)
            #expect(batch.0 == .ok, "\(batch.1)")
            #expect(try TokenEndpointTests.verify(try #require(batch.1["access_token"]?.stringValue), core).claims["client_id"] == "batch-jobs")

            // A JWT-SVID (no iss) from the SPIFFE bundle endpoint, as a jwt-spiffe assertion.
            let svid = try await platform.mint("spire", claims: ["iss": .null, "nbf": .null, "sub": "spiffe://example.org/ns/payments/sa/api",
                                                           "aud": .string(Self.audience)])
            let spiffe = try await Self.clientCredentials(client, svid, type: Self.spiffe)
            #expect(spiffe.0 == .ok, "\(spiffe.1)")

            let once = try await platform.mint("once", claims: ["sub": "system:serviceaccount:once:svc", "aud": .string(Self.audience),
                                                          "jti": .string(UUID().uuidString)])
            #expect(try await Self.clientCredentials(client, once).0 == .ok)
            #expect(try await Self.clientCredentials(client, once).1["error"] == "invalid_client", "one_time: a second use is refused")
        }
    }

    @Test func refusals() async throws {
        try await Self.withPlatform { f, client, core, platform in
            let now = Int64(Date().timeIntervalSince1970)
            let aud = JSONValue.string(Self.audience), sub = JSONValue.string(Self.api)
            let cases: [(String, String, String)] = [
                ("wrong audience", try await platform.mint("k8s", claims: ["sub": sub, "aud": "https://elsewhere.example.com"]), Self.bearer),
                ("expired", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud, "iat": .int(now - 700), "nbf": .int(now - 700),
                                                             "exp": .int(now - 100)]), Self.bearer),
                ("not yet valid", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud, "nbf": .int(now + 600), "exp": .int(now + 1200)]), Self.bearer),
                ("issued in the future", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud, "iat": .int(now + 600), "nbf": .null]), Self.bearer),
                ("no exp", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud, "exp": .null]), Self.bearer),
                ("untrusted issuer", try await platform.mint("k8s", claims: ["iss": "https://evil.example.com", "sub": sub, "aud": aud]), Self.bearer),
                ("unmapped subject", try await platform.mint("k8s", claims: ["sub": "system:serviceaccount:payments:other", "aud": aud]), Self.bearer),
                ("no subject", try await platform.mint("k8s", claims: ["aud": aud]), Self.bearer),
                ("no kid", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud], headers: ["kid": .null]), Self.bearer),
                ("unknown kid", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud], headers: ["kid": "made-up"]), Self.bearer),
                ("a stranger's key under the issuer's kid", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud], key: "stranger"), Self.bearer),
                ("a JWKS URL of the client's", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud],
                                                                 headers: ["kid": "attacker", "jku": "http://127.0.0.1:1/jwks"], key: "stranger"), Self.bearer),
                ("alg none", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud], alg: "none"), Self.bearer),
                ("HS256 keyed with the public key", try await platform.mint("k8s", claims: ["sub": sub, "aud": aud], alg: "HS256-with-public-key"), Self.bearer),
                ("SVID of another trust domain", try await platform.mint("spire", claims: ["iss": .null, "sub": "spiffe://evil.org/ns/payments/sa/api",
                                                                                     "aud": aud]), Self.spiffe),
                ("jwt-spiffe from no trusted issuer", try await platform.mint("k8s", claims: ["iss": "https://evil.example.com", "sub": sub, "aud": aud]),
                 Self.spiffe),
            ]
            for (name, token, type) in cases {
                let (status, body) = try await Self.clientCredentials(client, token, type: type)
                #expect(status == .unauthorized && body["error"] == "invalid_client", "\(name): \(status) \(body)")
            }
            // The client_id the request names must be the one the platform token maps to.
            let good = try await platform.mint("k8s", claims: ["sub": sub, "aud": aud])
            let other = try await Self.clientCredentials(client, good, extra: [("client_id", "batch-jobs")])
            #expect(other.0 == .unauthorized && other.1["error"] == "invalid_client", "\(other.1)")
        }
    }

    @Test func keyRolloverAndAnIssuerThatGoesDown() async throws {
        try await Self.withPlatform { f, client, core, platform in
            let claims: JSONObject = ["sub": .string(Self.api), "aud": .string(Self.audience)]
            let before = try await platform.mint("k8s", claims: claims)
            #expect(try await Self.clientCredentials(client, before).0 == .ok)

            // The issuer rolls its key over (the old one unpublished): a token of the new kid is accepted
            // without a restart, and the old key is gone with the refetch.
            try await Task.sleep(for: .milliseconds(1100))
            try await platform.set("k8s", maxAge: 8)
            try await platform.rotate("k8s", keepOld: false)
            let after = try await platform.mint("k8s", claims: claims)
            let rolled = try await Self.clientCredentials(client, after)
            #expect(rolled.0 == .ok, "\(rolled.1)")
            #expect(try await Self.clientCredentials(client, before).0 == .unauthorized)

            // Down: cached keys serve until their max-age ends, then authentication fails closed.
            try await platform.set("k8s", down: true)
            // The last fetch that succeeded was before this: the keys are kept until 8 s after now at the latest.
            let down = ContinuousClock.now
            #expect(try await Self.clientCredentials(client, after).0 == .ok, "served from the cache")
            try await Task.sleep(until: down + .milliseconds(8300))
            let refused = try await Self.clientCredentials(client, after)
            #expect(refused.0 == .unauthorized && refused.1["error"] == "invalid_client", "\(refused.1)")
            // Back up: the next attempt (at most one per jwks_min_refetch_seconds) finds the keys again.
            try await platform.set("k8s", down: false)
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await Self.clientCredentials(client, after).0 == .ok)
        }
    }

    @Test func madeUpKidsCannotMakeTheServiceHammerTheIssuer() async throws {
        try await Self.withPlatform { f, client, core, platform in
            let claims: JSONObject = ["sub": "system:serviceaccount:strict:svc", "aud": .string(Self.audience)]
            #expect(try await Self.clientCredentials(client, try await platform.mint("strict", claims: claims)).0 == .ok)
            #expect(try await platform.fetches("strict") == 1)
            for i in 0..<10 {
                let token = try await platform.mint("strict", claims: claims, headers: ["kid": .string("made-up-\(i)")])
                #expect(try await Self.clientCredentials(client, token).0 == .unauthorized)
            }
            #expect(try await platform.fetches("strict") == 1, "an unknown kid refetches at most once a minute")
        }
    }

    @Test func aWorkloadAsksForATxnTokenForItself() async throws {
        try await Self.withPlatform { f, client, core, platform in
            let own = try await platform.mint("k8s", claims: ["sub": .string(Self.api), "aud": .string(Self.audience)])
            func ask(_ subject: String) async throws -> (HTTPResponse.Status, JSONObject) {
                try await Self.post(client, [("grant_type", TokenExchangeTests.urn), ("client_assertion_type", Self.bearer), ("client_assertion", own),
                                             ("requested_token_type", TransactionTokenTests.urn), ("audience", "trust.example"), ("scope", "orders"),
                                             ("subject_token", subject), ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt")])
            }
            let (status, body) = try await ask(own)
            #expect(status == .ok, "\(body)")
            let c = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core).claims
            #expect(c["sub"] == "payments-api" && c["req_wl"] == "payments-api" && c["scope"] == "orders")
            // Another workload's platform token is not this workload's subject.
            let batch = try await platform.mint("k8s", claims: ["sub": "system:serviceaccount:batch:nightly", "aud": .string(Self.audience)])
            let other = try await ask(batch)
            #expect(other.0 == .badRequest && other.1["error"] == "invalid_grant", "\(other.1)")
        }
    }

    @Test(arguments: [
        (#"[{"issuer": "ftp://x", "audience": "a", "subjects": {"s": "billing"}}]"#, "https URL"),
        (#"[{"issuer": "http://issuer.example.com", "audience": "a", "subjects": {"s": "billing"}}]"#, "https URL"),
        (#"[{"issuer": "https://i.example.com", "audience": "a", "subjects": {}}]"#, "at least one"),
        (#"[{"issuer": "https://i.example.com", "audience": "a", "subjects": {"*": "billing"}}]"#, "every subject"),
        (#"[{"issuer": "https://i.example.com", "audience": "a", "subjects": {"a*b": "billing"}}]"#, "only at the end"),
        (#"[{"issuer": "https://i.example.com", "audience": "a", "subjects": {"s": "nobody"}}]"#, "not a client"),
        (#"[{"issuer": "spiffe://example.org", "audience": "a", "subjects": {"s": "billing"}}]"#, "bundle endpoint"),
        (#"[{"issuer": "https://i.example.com", "subjects": {"s": "billing"}}]"#, "audience"),
    ])
    func configMistakes(_ json: String, _ expected: String) async throws {
        let f = try Fixture { config in config["trusted_issuers"] = try? JSON.parse(Array(json.utf8)) }
        defer { f.cleanUp() }
        do {
            _ = try ConfigLoader.load(path: f.configPath, environment: [:])
            Issue.record("\(json) was accepted")
        } catch {
            #expect(error.problems.contains { $0.contains(expected) }, "\(error.problems)")
        }
    }
}
