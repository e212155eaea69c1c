import Foundation
import JSONCore
import Testing
import TestSupport
@testable import TokenService

/// What a client does with its socket cannot take the service down: idle and slow connections are cut,
/// connections are capped below the open-file limit, and a truncated request is the client's error.
@Suite(.serialized) struct ConnectionLimitsTests {
    static func fast(_ config: inout JSONObject) {
        var listen = config["listen"]?.objectValue ?? [:]
        listen["header_timeout_seconds"] = 1
        listen["idle_timeout_seconds"] = 2
        config["listen"] = .object(listen)
    }

    @Test func idleAndSlowConnectionsAreClosed() async throws {
        let server = try await DevServer(edit: Self.fast)
        let silent = try #require(RawConnection(port: server.port, timeoutSeconds: 4))
        #expect(silent.isClosedByPeer(), "a connection that sends nothing is closed after the header timeout")

        let trickle = try #require(RawConnection(port: server.port, timeoutSeconds: 1))
        let started = ContinuousClock.now
        var cut = false
        for ch in "POST /oauth/token HTTP/1.1\r\nHost: x\r\nX-Slow: " + String(repeating: "a", count: 40) {
            if !trickle.send(String(ch)) { cut = true; break }
            try await Task.sleep(for: .milliseconds(200))
            if ContinuousClock.now - started > .seconds(4) { break }
        }
        #expect(cut || trickle.isClosedByPeer(), "a header trickled a byte at a time is cut")
        #expect(ContinuousClock.now - started < .seconds(5))

        let slowBody = try #require(RawConnection(port: server.port, timeoutSeconds: 5))
        slowBody.send("POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type")
        #expect(slowBody.isClosedByPeer(), "a body that never completes is cut after the idle timeout")

        let keepAlive = try #require(RawConnection(port: server.port, timeoutSeconds: 5))
        keepAlive.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let answered = ContinuousClock.now
        #expect(keepAlive.isClosedByPeer(), "an idle keep-alive connection is closed")
        #expect(ContinuousClock.now - answered >= .seconds(1), "but not before the idle timeout")
        #expect(server.isRunning)
    }

    /// With 64 descriptors (hard limit 256): the soft limit is raised, connections past the cap wait,
    /// the open ones are served, and the process never dies.
    @Test func theDescriptorLimitIsRespected() async throws {
        let server = try await DevServer(edit: { config in
            var listen = config["listen"]?.objectValue ?? [:]
            listen["header_timeout_seconds"] = 60
            config["listen"] = .object(listen)
        }, openFiles: (soft: 64, hard: 256))
        let limits = try String(contentsOfFile: "/proc/\(server.pid)/limits", encoding: .utf8)
        let openFiles = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(openFiles?[3] == "256", "the soft limit was raised to the hard one: \(openFiles ?? [])")

        let kept = try #require(RawConnection(port: server.port, timeoutSeconds: 5))
        kept.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        var idle: [RawConnection] = []
        for _ in 0..<300 { if let c = RawConnection(port: server.port, timeoutSeconds: 1) { idle.append(c) } }
        kept.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        var answer = [UInt8](repeating: 0, count: 4096)
        var text = ""
        while text.components(separatedBy: "HTTP/1.1 200").count < 3 {
            let n = answer.withUnsafeMutableBytes { recv(kept.fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            text += String(decoding: answer[0..<n], as: UTF8.self)
        }
        #expect(text.components(separatedBy: "HTTP/1.1 200").count == 3, "an open connection is still served past the cap: \(text)")
        #expect(server.isRunning)
        idle.removeAll()
        try await Task.sleep(for: .milliseconds(300))
        let after = try await EndToEndTests.get(server.base + "/healthz")
        #expect(after.status == 200, "new connections are accepted again once others close")
        #expect(server.isRunning && !server.log.contains("Fatal error"))
    }

    @Test func aTruncatedBodyIsTheClientsError() async throws {
        let server = try await DevServer()
        for _ in 0..<5 {
            let c = try #require(RawConnection(port: server.port, timeoutSeconds: 5))
            c.send("POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=client")
            c.finishSending()
            let reply = c.readToEnd()
            #expect(reply.isEmpty || reply.hasPrefix("HTTP/1.1 400"), "\(reply)")
        }
        let metrics = String(decoding: try await EndToEndTests.get(server.base + "/metrics").body, as: UTF8.self)
        #expect(!metrics.contains(#"status="500""#), "\(metrics.split(separator: "\n").filter { $0.contains("500") })")
        #expect(!server.log.contains("unhandled error") && !server.log.contains(" error "), "\(server.log)")
    }
}
