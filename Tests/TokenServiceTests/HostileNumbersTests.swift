import Foundation
import HTTPTypes
import JOSE
import JSONCore
import Testing
@testable import TokenService

/// Numbers a client controls (a DPoP proof it signs itself, an assertion signed with its own key, a
/// token it presents) are answered with the endpoint's error, never by trapping the process.
@Suite struct HostileNumbersTests {
    static let hostile: [JSONValue] = [.int(.min), .int(.max), .double(1e300), .double(-1e300), .int(100_000_000_001)]

    @Test func dpopProofIatAtTheExtremes() async throws {
        try await Fixture.withRouterClient { f, client, core in
            let key = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "proof")
            for iat in Self.hostile {
                let proof = try key.dpopProof(htu: core.holder.current.tokenEndpoint, iat: iat)
                let (status, body) = try await DPoPTests.post(client, f, proof: proof)
                #expect(status == .badRequest && body["error"] == "invalid_dpop_proof", "iat \(iat): \(status) \(body)")
            }
            let fine = try key.dpopProof(htu: core.holder.current.tokenEndpoint)
            #expect(try await DPoPTests.post(client, f, proof: fine).0 == .ok, "the service is still there")
        }
    }

    @Test func clientAssertionExpAndNbfAtTheExtremes() async throws {
        try await Fixture.withRouterClient { f, client, core in
            let now = Int64(Date().timeIntervalSince1970)
            let signer = JWSSigner(key: f.batchKey, typ: nil)
            var n = 0
            for (claim, value) in Self.hostile.map({ ("exp", $0) }) + Self.hostile.map({ ("nbf", $0) }) {
                n += 1
                var claims: JSONObject = ["iss": "batch", "sub": "batch", "aud": .string(f.issuer + "/oauth/token"), "exp": .int(now + 60),
                                          "jti": .string("hostile-\(n)")]
                claims[claim] = value
                let (status, body) = try await client.execute(
                    uri: "/oauth/token", method: .post, headers: Form.headers,
                    body: Form.encode([("grant_type", "client_credentials"), ("client_assertion_type", ClientAuthenticator.assertionType),
                                       ("client_assertion", try signer.sign(claims: claims))])) { ($0.status, $0.json) }
                #expect(status == .unauthorized && body["error"] == "invalid_client", "\(claim) \(value): \(status) \(body)")
            }
        }
    }

    @Test func presentedTokensWithExtremeExp() async throws {
        try await Fixture.withRouterClient(mutate: { config in
            config.addClient(["client_id": "exchanger", "client_secret": "billing-secret-0123456789abcdef0123",
                              "grant_types": [.string(TokenExchangeTests.urn)], "scopes": ["invoices:read"],
                              "audiences": ["https://api.example.com"], "token_exchange": ["subject_audiences": ["https://api.example.com"]]])
        }) { f, client, core in
            let signer = try #require(core.holder.current.keys.signers(for: nil)).accessToken
            for exp in Self.hostile {
                let token = try signer.sign(claims: ["iss": .string(f.issuer), "sub": "billing", "client_id": "billing",
                                                     "aud": "https://api.example.com", "scope": "invoices:read", "exp": exp])
                let introspected = try await client.execute(uri: "/oauth/introspect", method: .post, headers: Form.basic("billing", f.billingSecret),
                                                            body: Form.encode([("token", token)])) { ($0.status, $0.json) }
                #expect(introspected.0 == .ok && introspected.1 == ["active": false], "exp \(exp): \(introspected)")
                let exchanged = try await TokenExchangeTests.exchange(client, f, [("subject_token", token), ("subject_token_type", TokenExchangeTests.accessType)])
                #expect(exchanged.0 == .badRequest && exchanged.1["error"] == "invalid_grant", "exp \(exp): \(exchanged)")
            }
        }
    }

    @Test func gatewayAuthTimeOutOfRange() async throws {
        try await Fixture.withRouterClient { f, client, _ in
            for authTime in ["9223372036854775807", "-1", "1e300", "100000000001"] {
                let status = try await client.execute(uri: "/v1/tokens", method: .post,
                                                      headers: [.authorization: "Bearer \(f.gatewayToken)", .contentType: "application/json"],
                                                      body: .init(string: #"{"client_id":"web-app","grant_type":"authorization_code","auth_time":\#(authTime),"user":{"id":"u"}}"#)) { $0.status }
                #expect(status == .badRequest, "auth_time \(authTime)")
            }
        }
    }
}
