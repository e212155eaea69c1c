import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` (Debian's) on a free loopback port, without persistence, for tests; stopped
/// when this object goes away. `stop()` and `start()` simulate an outage on the same port.
public final class RedisServer: Sendable {
    public let port: Int
    /// TLS only (`--tls-port`), with a certificate from this CA, when given.
    public let tls: TestCA?
    /// The running server.
    private let process = Mutex<Process?>(nil)

    public init(tls: TestCA? = nil) throws {
        port = unusedLoopbackPort()
        self.tls = tls
        if let tls { try tls.issue("redis") }
        try start()
    }

    /// Starts a server on a thread of its own (`offPool`): waiting for it to answer PING.
    public static func start(tls: TestCA? = nil) async throws -> RedisServer {
        try await offPool { try RedisServer(tls: tls) }
    }

    /// `start` on a thread of its own (`offPool`).
    public func restart() async throws { try await offPool { try self.start() } }

    public func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var args = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        if let tls {
            let dir = tls.directory.path
            args += ["--port", "0", "--tls-port", String(port), "--tls-cert-file", dir + "/redis.pem", "--tls-key-file", dir + "/redis.key",
                     "--tls-ca-cert-file", tls.certificate, "--tls-auth-clients", "no"]
        } else {
            args += ["--port", String(port)]
        }
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process.withLock { $0 = p }
        for _ in 0..<100 {
            if ping() { return }
            usleep(50_000)
        }
        throw CocoaError(.fileReadUnknown)
    }

    /// Kills the server (SIGKILL: an outage, and no persistence to lose). Not SIGTERM: a test process
    /// that uses ServiceLifecycle ignores SIGTERM, and children it spawns inherit that.
    public func stop() {
        process.withLock { current in
            guard let p = current else { return }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            current = nil
        }
    }

    public var url: String { "\(tls == nil ? "redis" : "rediss")://127.0.0.1:\(port)/0" }

    public func ping() -> Bool { (try? cli(["PING"])) == "PONG" }

    /// `redis-cli` against this server; its trimmed output.
    public func cli(_ args: [String]) throws -> String {
        let p = Process()
        let out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["redis-cli", "-p", String(port)] + (tls.map { ["--tls", "--cacert", $0.certificate] } ?? []) + args
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { stop() }
}
