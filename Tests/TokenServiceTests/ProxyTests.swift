import Foundation
import JSONCore
import Testing
import TestSupport
@testable import TokenService

/// Two replicas sharing one Redis behind a real nginx that adds `X-Forwarded-For`, with nginx's address in
/// `listen.trusted_proxies`. Clients come from different loopback addresses (`curl --interface`).
@Suite(.serialized) struct ProxyTests {
    @Test func limitsApplyToTheRealClientAddressBehindTheProxy() async throws {
        let redis = try await RedisServer.start()
        var replicas: [DevServer] = []
        let lbPort = unusedLoopbackPort()
        for _ in 0..<2 {
            replicas.append(try await DevServer(edit: { config in
                var listen = config["listen"]?.objectValue ?? [:]
                listen["trusted_proxies"] = ["127.0.0.1/32"]
                config["listen"] = .object(listen)
                config["issuer"] = .string("http://127.0.0.1:\(lbPort)")
                config["shared_state"] = ["redis": ["url": .string(redis.url)]]
                config["limits"] = ["failed_auth_per_minute": ["client": 5, "address": 50]]
            }))
        }
        let nginx = try await Nginx.start(upstreams: replicas.map(\.port))
        let base = "http://127.0.0.1:\(nginx.port)"
        func token(from address: String, secret: String, forwardedFor: String? = nil) async throws -> Int {
            var args = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "--interface", address,
                        "-u", "billing:\(secret)", "-d", "grant_type=client_credentials"]
            if let forwardedFor { args += ["-H", "X-Forwarded-For: \(forwardedFor)"] }
            return Int(try await EndToEndTests.run("curl", args + [base + "/oauth/token"]).output) ?? 0
        }
        let good = "billing-secret-0123456789abcdef0123"
        #expect(try await token(from: "127.0.0.5", secret: good) == 200)
        // A stranger at 127.0.0.5 fails five times (spread over both replicas): that address is locked out for billing.
        for _ in 0..<5 { #expect(try await token(from: "127.0.0.5", secret: "wrong") == 401) }
        #expect(try await token(from: "127.0.0.5", secret: good) == 429, "even the right secret, from the stranger's address")
        #expect(try await token(from: "127.0.0.5", secret: good, forwardedFor: "127.0.0.6") == 429, "a forged X-Forwarded-For does not help")
        #expect(try await token(from: "127.0.0.6", secret: good) == 200, "the client from another address is served")
        // The access log names the client, not the proxy.
        let logs = replicas.map(\.log).joined()
        #expect(logs.contains("remote_ip=127.0.0.5") && logs.contains("remote_ip=127.0.0.6"))
        #expect(replicas.allSatisfy { $0.log.contains("path=/oauth/token") }, "nginx balanced over both replicas")
    }
}
