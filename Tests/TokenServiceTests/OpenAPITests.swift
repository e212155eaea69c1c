import Foundation
import HTTPTypes
import NIOCore
import JSONCore
import Testing
@testable import TokenService

/// docs/openapi.yaml is valid OpenAPI 3.1, names exactly the router's routes, and the live service
/// conforms to it under schemathesis (no 5xx; statuses, content types, headers and bodies as documented).
@Suite(.serialized) struct OpenAPITests {
    static var document: String { EndToEndTests.repoRoot.appendingPathComponent("docs/openapi.yaml").path }

    @Test func theDocumentIsValid() async throws {
        let r = try await EndToEndTests.run("openapi-spec-validator", [Self.document])
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func everyRouteIsDocumentedAndNothingElse() async throws {
        let r = try await EndToEndTests.run("python3", ["-c", """
            import json, sys, yaml
            d = yaml.safe_load(open(sys.argv[1]))
            print(json.dumps(sorted(m.upper() + " " + p for p, ops in d["paths"].items() for m in ops if m != "parameters")))
            """, Self.document])
        let documented = Set(try JSON.parse(Array(r.output.utf8)).arrayValue?.compactMap(\.stringValue) ?? [])
        let routed = Set(Endpoint.allCases.map { "\($0.method.rawValue) \($0.path)" })
        #expect(!routed.isEmpty && routed == documented, "endpoints: \(routed.sorted())\ndocument: \(documented.sorted())")
        // The listener routes by the endpoint table: each endpoint is answered (not 404 or 405) with its method,
        // 405 with another, and a path outside the table is 404.
        let f = try Fixture()
        defer { f.cleanUp() }
        let (app, _, engine) = try await f.application()
        defer { engine.shutdown() }
        try await app.test { client in
            for endpoint in Endpoint.allCases {
                let method = HTTPRequest.Method(endpoint.method.rawValue)!
                let status = try await client.execute(uri: endpoint.path, method: method, body: ByteBuffer()) { $0.status }
                #expect(status != .notFound && status != .methodNotAllowed, "\(endpoint.path): \(status)")
                let other: HTTPRequest.Method = endpoint.method == .GET ? .post : .get
                let refused = try await client.execute(uri: endpoint.path, method: other, body: ByteBuffer()) { $0 }
                #expect(refused.status == .methodNotAllowed && refused.headers[.allow] == endpoint.method.rawValue, "\(endpoint.path)")
            }
            #expect(try await client.execute(uri: "/oauth/authorize", method: .get) { $0.status } == .notFound)
        }
    }

    @Test func theLiveServiceConformsUnderSchemathesis() async throws {
        let server = try await DevServer { config in
            // Schemathesis sends many requests from one address: the failure limits must not turn them into 429s.
            config["limits"] = ["failed_auth_per_minute": ["client": 1_000_000, "address": 1_000_000]]
        }
        let checks = ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]
        let basic = "Authorization: Basic " + Data("billing:billing-secret-0123456789abcdef0123".utf8).base64EncodedString()
        let runs: [(String, [String])] = [
            ("OAuth endpoints with client_secret_basic", ["-H", basic, "--include-path-regex", "^/oauth/"]),
            ("Transaction Token requests of the API gateway", ["-H", "Authorization: Basic " + Data("api-gateway:gateway-secret-0123456789abcdef01234".utf8).base64EncodedString(),
                                                                "--include-path", "/oauth/token"]),
            ("the gateway endpoint with the gateway credential", ["-H", "Authorization: Bearer dev-gateway-token-0123456789", "--include-path", "/v1/tokens"]),
            ("metadata endpoints", ["--exclude-path-regex", "^/(oauth|v1)/"]),
        ]
        for (name, args) in runs {
            let r = try await EndToEndTests.run("schemathesis", ["run", Self.document, "--url", server.base, "-n", "40", "--seed", "20261201",
                                                           "--request-timeout", "10", "--no-color"] + checks + args)
            #expect(r.status == 0, "\(name):\n\(r.output.suffix(4000))")
            #expect(r.output.contains("passed"), "\(name): schemathesis ran cases")
        }
    }
}
