import Foundation
import JOSE
import JSONCore
import NIOCore
import Testing
import TestSupport
@testable import TokenService

/// Redis as real deployments run it: TLS only (`--tls-port`, a CA made here) and an ACL user. Works with
/// the right CA and credentials; fails closed — one-time checks refused, `/healthz` degraded with one
/// readable line — with a wrong certificate or password.
@Suite(.serialized) struct RedisTLSTests {
    static func ca() async throws -> TestCA {
        try await TestCA.make(directory: FileManager.default.temporaryDirectory.appendingPathComponent("redis-ca-\(UUID().uuidString)"))
    }

    @Test func anACLUserOverTLSWorksAndAWrongCertificateOrPasswordFailsClosed() async throws {
        let ca = try await Self.ca()
        let redis = try await RedisServer.start(tls: ca)
        #expect(try redis.cli(["ACL", "SETUSER", "tokensvc", "on", ">svc-pass-0123456789", "~t:*", "+@all"]) == "OK")
        // 10 s deadlines, not the service's 1 s and 500 ms: what is checked is why a connection fails, which a
        // TLS handshake slowed past 1 s by a loaded machine would hide behind the deadline.
        func state(_ url: String, ca file: String?, prefix: String = "t:") throws -> RedisState {
            try RedisState(settings: try #require(RedisSettings(url: url, prefix: prefix, password: nil, caFile: file)), connectTimeout: .seconds(10),
                           commandTimeout: .seconds(10))
        }
        let good = try state("rediss://tokensvc:svc-pass-0123456789@localhost:\(redis.port)/0", ca: ca.certificate)
        #expect(await good.problem() == nil)
        #expect(try await good.claimOnce("jti-1", expiresAt: 2000, now: 1000))
        #expect(try await !good.claimOnce("jti-1", expiresAt: 2000, now: 1000))
        // Authenticated as the ACL user, not the default one: its keys are limited to the prefix t:*.
        let outside = try state("rediss://tokensvc:svc-pass-0123456789@localhost:\(redis.port)/0", ca: ca.certificate, prefix: "x:")
        await #expect(throws: SharedStateError.self) { _ = try await outside.claimOnce("jti-1", expiresAt: 2000, now: 1000) }

        let strangerCA = try await Self.ca()
        let wrongCA = try state("rediss://tokensvc:svc-pass-0123456789@localhost:\(redis.port)/0", ca: strangerCA.certificate)
        await #expect(throws: SharedStateError.self) { _ = try await wrongCA.claimOnce("jti-2", expiresAt: 2000, now: 1000) }
        let certificateProblem = try #require(await wrongCA.problem())
        #expect(!certificateProblem.contains("\n") && certificateProblem.count <= 300, "\(certificateProblem)")
        #expect(certificateProblem.contains("CERTIFICATE_VERIFY_FAILED"), "\(certificateProblem)")

        let wrongPassword = try state("rediss://tokensvc:nope@localhost:\(redis.port)/0", ca: ca.certificate)
        await #expect(throws: SharedStateError.self) { _ = try await wrongPassword.claimOnce("jti-3", expiresAt: 2000, now: 1000) }
        let passwordProblem = try #require(await wrongPassword.problem())
        #expect(passwordProblem.contains("WRONGPASS") && !passwordProblem.contains("nope"), "\(passwordProblem)")

        let plain = try state("redis://localhost:\(redis.port)/0", ca: nil)
        #expect(await plain.problem() != nil, "plain TCP to a TLS port is not Redis")
    }

    /// The real binary with `rediss://` and a CA that did not sign the server: DPoP-bound tokens (which need
    /// the one-time check) are refused with 503, `/healthz` says why, and nothing else is affected.
    @Test func theServiceFailsClosedOnAWrongRedisCertificate() async throws {
        let ca = try await Self.ca(), stranger = try await Self.ca()
        let redis = try await RedisServer.start(tls: ca)
        _ = try redis.cli(["ACL", "SETUSER", "tokensvc", "on", ">svc-pass-0123456789", "~*", "+@all"])
        for (trust, expected) in [(ca, 200), (stranger, 503)] {
            let server = try await DevServer(edit: { config in
                config["shared_state"] = ["redis": ["url": .string("rediss://tokensvc:svc-pass-0123456789@localhost:\(redis.port)/0"),
                                                    "ca_file": .string(trust.certificate)]]
            })
            let key = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "k")
            let proof = try key.dpopProof(htu: server.base + "/oauth/token")
            let status = try await EndToEndTests.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "billing:billing-secret-0123456789abcdef0123",
                                                        "-H", "DPoP: \(proof)", "-d", "grant_type=client_credentials", server.base + "/oauth/token"]).output
            #expect(status == String(expected), "trusting \(trust === ca ? "the right" : "a stranger's") CA")
            let health = try #require(try JSON.parse(Array(try await EndToEndTests.get(server.base + "/healthz").body)).objectValue)
            #expect((health["status"] == "ok") == (expected == 200), "\(health)")
            #expect(try await EndToEndTests.clientCredentials(server.base, id: "billing", secret: "billing-secret-0123456789abcdef0123") == 200,
                    "tokens without a one-time check are still issued")
        }
    }
}
