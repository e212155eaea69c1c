import Claims
import Foundation
import HTTPTypes
import JOSE
import JSONCore
import Testing
@testable import TokenService

/// DPoP (RFC 9449) at the token endpoint, with proofs made by an independent library (joserfc).
@Suite struct DPoPTests {
    static func proofCases(htu: String) async throws -> [JSONObject] {
        let script = EndToEndTests.repoRoot.appendingPathComponent("Tests/e2e/dpop_proofs.py").path
        let r = try await EndToEndTests.run("python3", ["-W", "ignore", script, "cases", htu])
        return try JSON.parse(Array(r.output.utf8)).arrayValue?.compactMap(\.objectValue) ?? []
    }

    static func post(_ client: some TestClientProtocol, _ f: Fixture, proof: String?, id: String = "billing") async throws -> (HTTPResponse.Status, JSONObject) {
        var headers = Form.basic(id, f.billingSecret)
        if let proof { headers[.dpop] = proof }
        return try await client.execute(uri: "/oauth/token", method: .post, headers: headers,
                                        body: Form.encode([("grant_type", "client_credentials")])) { ($0.status, $0.json) }
    }

    @Test func everyAlgorithmAndEveryRefusal() async throws {
        try await Fixture.withRouterClient { f, client, core in
            let cases = try await Self.proofCases(htu: core.holder.current.tokenEndpoint)
            #expect(cases.count >= 20)
            for c in cases {
                let name = c["name"]?.stringValue ?? "?"
                let (status, body) = try await Self.post(client, f, proof: c["proof"]?.stringValue)
                if c["expect"] == "ok" {
                    #expect(status == .ok, "\(name): \(body)")
                    #expect(body["token_type"] == "DPoP", "\(name)")
                    let token = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core)
                    #expect(token.claims["cnf"] == ["jkt": c["jkt"] ?? .null], "\(name): cnf.jkt is the RFC 7638 thumbprint joserfc computes")
                } else {
                    #expect(status == .badRequest && body["error"] == "invalid_dpop_proof", "\(name): \(status) \(body)")
                }
            }
        }
    }

    @Test func twoProofsAreRefusedAndBoundClientsMustSendOne() async throws {
        try await Fixture.withRouterClient(mutate: { config in
            config.addClient(["client_id": "bound", "client_secret": "billing-secret-0123456789abcdef0123", "grant_types": ["client_credentials"],
                              "audiences": ["https://api.example.com"], "dpop_bound_access_tokens": true])
        }) { f, client, core in
            let (status, body) = try await Self.post(client, f, proof: nil, id: "bound")
            #expect(status == .badRequest && body["error"] == "invalid_dpop_proof")
            let plain = try await Self.post(client, f, proof: nil)
            #expect(plain.0 == .ok && plain.1["token_type"] == "Bearer", "other clients need no proof")
            let valid = try await Self.proofCases(htu: core.holder.current.tokenEndpoint).filter { $0["expect"] == "ok" }
            var headers = Form.basic("bound", f.billingSecret)
            headers.append(HTTPField(name: .dpop, value: valid[0]["proof"]!.stringValue!))
            headers.append(HTTPField(name: .dpop, value: valid[1]["proof"]!.stringValue!))
            try await client.execute(uri: "/oauth/token", method: .post, headers: headers, body: Form.encode([("grant_type", "client_credentials")])) { res in
                #expect(res.status == .badRequest && res.json["error"] == "invalid_dpop_proof")
            }
            let ok = try await Self.post(client, f, proof: valid[2]["proof"]?.stringValue, id: "bound")
            #expect(ok.0 == .ok && ok.1["token_type"] == "DPoP")
        }
    }

    @Test func theGatewayBindsWithDpopJkt() async throws {
        try await Fixture.withRouterClient { f, client, core in
            let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
            func mint(_ extra: String) async throws -> (HTTPResponse.Status, JSONObject) {
                try await client.execute(uri: "/v1/tokens", method: .post,
                                         headers: [.authorization: "Bearer \(f.gatewayToken)", .contentType: "application/json"],
                                         body: .init(string: #"{"client_id":"web-app","grant_type":"authorization_code","scope":"openid","user":{"id":"u-1"}"# + extra + "}")) {
                    ($0.status, $0.json)
                }
            }
            let (status, body) = try await mint(#","dpop_jkt":"\#(jkt)""#)
            #expect(status == .ok && body["token_type"] == "DPoP", "\(body)")
            let at = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core)
            #expect(at.claims["cnf"] == ["jkt": .string(jkt)])
            let bad = try await mint(#","dpop_jkt":"short""#)
            #expect(bad.0 == .badRequest && bad.1["error"] == "invalid_request")
            let discovery = try await client.execute(uri: "/.well-known/openid-configuration", method: .get) { $0.json }
            #expect(discovery["dpop_signing_alg_values_supported"] == ["ES256", "ES384", "RS256", "PS256", "EdDSA"])
        }
    }

    @Test(arguments: [
        ("https://AS.example.com:443/oauth/token?x=1#f", "https://as.example.com/oauth/token" as String?),
        ("http://as.example.com:80", "http://as.example.com/"),
        ("http://as.example.com:8080/a", "http://as.example.com:8080/a"),
        ("https://[::1]:8443/t", "https://[::1]:8443/t"),
        ("https://[::1]:443/t", "https://[::1]/t"),
        // Found by the dpop fuzz target: two ports lost one per call (normalisation was not idempotent).
        ("HTTPS://AS.exa:443:443/oauth/t", nil),
        ("https://as.example.com:/t", nil), ("https://as.example.com:123456/t", nil), ("https://user@as.example.com/t", nil),
        ("https://as example.com/t", nil), ("https://[::1/t", nil), ("https://[::1]x/t", nil), ("https:///t", nil),
    ])
    func htuNormalisation(input: String, normalized: String?) {
        #expect(DPoPProof.normalize(input) == normalized)
        if let normalized { #expect(DPoPProof.normalize(normalized) == normalized, "idempotent") }
    }
}
