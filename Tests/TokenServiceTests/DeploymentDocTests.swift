import Foundation
import Testing
import TestSupport
@testable import TokenService

/// docs/deployment.md's commands run as written: the Redis ACL user (then used by the service: what it
/// allows is enough, and nothing outside the prefix), and the smoke test of a replica with TLS and an
/// admin listener.
@Suite(.serialized) struct DeploymentDocTests {
    /// The ```sh block after `<!-- test: name -->` in docs/deployment.md.
    static func block(_ name: String) throws -> String {
        let text = try String(contentsOf: EndToEndTests.repoRoot.appendingPathComponent("docs/deployment.md"), encoding: .utf8)
        let after = try #require(text.components(separatedBy: "<!-- test: \(name) -->").dropFirst().first)
        let body = try #require(after.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "\n```").first)
        return body
    }

    static func bash(_ script: String, _ environment: [String: String]) async throws -> (status: Int32, output: String) {
        try await EndToEndTests.run("bash", ["-euo", "pipefail", "-c", script], environment: environment)
    }

    @Test func theRedisACLUserIsEnoughAndNoMore() async throws {
        let ca = try await TestCA.make(directory: FileManager.default.temporaryDirectory.appendingPathComponent("acl-\(UUID().uuidString)"))
        let redis = try await RedisServer.start(tls: ca)
        let r = try await Self.bash(try Self.block("redis-acl"), ["REDIS_CLI": "redis-cli --tls --cacert \(ca.certificate) -p \(redis.port)",
                                                            "TOKENSERVICE_REDIS_PASSWORD": "acl-pass-0123456789"])
        #expect(r.status == 0, "\(r.output)")
        func state(prefix: String) throws -> RedisState {
            try RedisState(settings: try #require(RedisSettings(url: "rediss://tokenservice:acl-pass-0123456789@localhost:\(redis.port)/0",
                                                                prefix: prefix, password: nil, caFile: ca.certificate)))
        }
        let allowed = try state(prefix: "tokenservice:login.example.com:")
        #expect(await allowed.problem() == nil)
        #expect(try await allowed.claimOnce("jti", expiresAt: 2000, now: 1000))
        #expect(try await allowed.increment("failed", window: 60, now: 1000).count == 1)
        #expect(try await allowed.peek("failed", now: 1000).count == 1)
        let outside = try state(prefix: "other:")
        await #expect(throws: SharedStateError.self, "keys outside the prefix are refused") {
            _ = try await outside.claimOnce("jti", expiresAt: 2000, now: 1000)
        }
    }

    @Test func theSmokeTestPassesOnAReplicaWithTLSAndAnAdminListener() async throws {
        let (server, ca, adminPort) = try await ProductionEdgeTests.tlsServer()
        let r = try await Self.bash(try Self.block("smoke"), ["TOKENSERVICE": EndToEndTests.binary, "CONFIG": server.configPath,
                                                        "BASE": "https://localhost:\(server.port)", "ADMIN": "https://localhost:\(adminPort)",
                                                        "CA": ca.certificate])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("tokenservice \(BuildInfo.version)"))
    }
}
