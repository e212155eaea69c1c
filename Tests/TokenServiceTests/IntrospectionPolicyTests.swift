import HTTPTypes
import JSONCore
import Testing
@testable import TokenService

/// Who may see what (RFC 7662 §4 leaves it to the server; the contract fixes it): the client a token was
/// issued to, or a client answering for one of its audiences. Everyone else, and every HMAC-signed
/// token, gets exactly `{"active": false}`.
@Suite struct IntrospectionPolicyTests {
    static func introspect(_ client: some TestClientProtocol, _ f: Fixture, as id: String, _ token: String) async throws -> JSONObject {
        try await client.execute(uri: "/oauth/introspect", method: .post, headers: Form.basic(id, f.billingSecret),
                                 body: Form.encode([("token", token)])) { $0.json }
    }

    @Test func onlyTheOwnerOrAnAudienceSeesAToken() async throws {
        try await Fixture.withRouterClient(mutate: { config in
            config.addClient(["client_id": "api-gateway", "client_secret": "billing-secret-0123456789abcdef0123", "grant_types": [],
                              "audiences": ["https://api.example.com"], "introspection": ["audiences": ["https://api.example.com"]]])
            config.addClient(["client_id": "other-api", "client_secret": "billing-secret-0123456789abcdef0123", "grant_types": [],
                              "audiences": ["https://api.example.com"], "token_exchange": ["subject_audiences": ["https://other.example.com"]]])
            config.addClient(["client_id": "inventory", "client_secret": "billing-secret-0123456789abcdef0123", "grant_types": [],
                              "audiences": ["https://api.example.com"]])
            var clients = config["clients"]?.arrayValue ?? []
            if var billing = clients.first?.objectValue {
                billing["audiences"] = .array((billing["audiences"]?.arrayValue ?? []) + ["inventory"])
                clients[0] = .object(billing)
            }
            config["clients"] = .array(clients)
        }) { f, client, core in
            let billing = try await TokenExchangeTests.token(client, f, audience: "https://api.example.com")
            #expect(try await Self.introspect(client, f, as: "billing", billing)["active"] == true, "its own client")
            #expect(try await Self.introspect(client, f, as: "api-gateway", billing)["active"] == true, "introspection.audiences")
            #expect(try await Self.introspect(client, f, as: "es-client", billing) == ["active": false], "a stranger")
            #expect(try await Self.introspect(client, f, as: "other-api", billing) == ["active": false], "not its audience")
            let forOther = try await TokenExchangeTests.token(client, f, audience: "https://other.example.com")
            #expect(try await Self.introspect(client, f, as: "other-api", forOther)["active"] == true, "token_exchange.subject_audiences")
            let forInventory = try await TokenExchangeTests.token(client, f, audience: "inventory")
            #expect(try await Self.introspect(client, f, as: "inventory", forInventory)["active"] == true, "its client_id in aud")
            #expect(try await Self.introspect(client, f, as: "inventory", billing) == ["active": false])

            let idToken = try await client.execute(uri: "/v1/tokens", method: .post,
                                                   headers: [.authorization: "Bearer \(f.gatewayToken)", .contentType: "application/json"],
                                                   body: .init(string: #"{"client_id":"web-app","grant_type":"authorization_code","scope":"openid email","user":{"id":"u-1","email":"ada@example.com"}}"#)) {
                try #require($0.json["id_token"]?.stringValue)
            }
            #expect(try await Self.introspect(client, f, as: "billing", idToken) == ["active": false], "another client's ID token (PII)")

            // hs-client's own token, signed with the HMAC key: a backend holding that key could have made it.
            let hs = try await client.execute(uri: "/oauth/token", method: .post, headers: Form.headers,
                                              body: Form.encode([("grant_type", "client_credentials"), ("client_id", "hs-client"),
                                                                 ("client_secret", f.billingSecret)])) { try #require($0.json["access_token"]?.stringValue) }
            let answer = try await client.execute(uri: "/oauth/introspect", method: .post, headers: Form.headers,
                                                  body: Form.encode([("token", hs), ("client_id", "hs-client"), ("client_secret", f.billingSecret)])) { $0.json }
            #expect(answer == ["active": false], "\(answer)")
        }
    }

    /// A caller authenticating with an assertion is answered by the waiting path (its jti goes to the
    /// one-time memory), a caller with a secret at once: the same policy either way.
    @Test func callersWithAnAssertionOrASecretGetTheSameAnswer() async throws {
        try await Fixture.withRouterClient { f, client, _ in
            let assertionForm = { () throws -> [(String, String)] in
                [("client_assertion_type", ClientAuthenticator.assertionType),
                 ("client_assertion", try f.batchAssertion(audience: f.issuer + "/oauth/introspect"))]
            }
            let batch = try await client.execute(uri: "/oauth/token", method: .post, headers: Form.headers,
                                                 body: Form.encode([("grant_type", "client_credentials"), ("client_assertion_type", ClientAuthenticator.assertionType),
                                                                    ("client_assertion", try f.batchAssertion(audience: f.issuer + "/oauth/token"))])) {
                try #require($0.json["access_token"]?.stringValue)
            }
            let own = try await client.execute(uri: "/oauth/introspect", method: .post, headers: Form.headers,
                                               body: Form.encode([("token", batch)] + (try assertionForm()))) { $0.json }
            #expect(own["active"] == true && own["client_id"] == "batch", "\(own)")
            #expect(try await Self.introspect(client, f, as: "billing", batch) == ["active": false], "a stranger, with a secret")
            let billing = try await TokenExchangeTests.token(client, f, audience: "https://api.example.com")
            let stranger = try await client.execute(uri: "/oauth/introspect", method: .post, headers: Form.headers,
                                                    body: Form.encode([("token", billing)] + (try assertionForm()))) { $0.json }
            #expect(stranger == ["active": false], "a stranger, with an assertion")
            let replayed = try f.batchAssertion(audience: f.issuer + "/oauth/introspect")
            for expected in [HTTPResponse.Status.ok, .unauthorized] {
                let status = try await client.execute(uri: "/oauth/introspect", method: .post, headers: Form.headers,
                                                       body: Form.encode([("token", billing), ("client_assertion_type", ClientAuthenticator.assertionType),
                                                                          ("client_assertion", replayed)])) { $0.status }
                #expect(status == expected, "an assertion is good once")
            }
        }
    }
}
