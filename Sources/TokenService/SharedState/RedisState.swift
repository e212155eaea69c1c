import NIOCore
import NIOSSL
import RESP
import ServiceLifecycle

/// The shared state in Redis: every replica using the same Redis (and prefix) agrees. Each operation
/// is one atomic command — `SET NX PX` for one-time keys, a Lua script for a fixed-window counter
/// (INCR and its expiry together) — so there is no read-modify-write race between replicas.
final class RedisState: SharedState {
    let client: RedisClient
    let prefix: String

    /// INCR; the first count starts the window; answers {count, ms left}.
    static let incrementScript = """
        local n = redis.call('INCR', KEYS[1])
        local t = redis.call('PTTL', KEYS[1])
        if n == 1 or t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
        return {n, t}
        """
    static let peekScript = "return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}"

    /// `connectTimeout` bounds the connection with its TLS handshake, AUTH and SELECT, `commandTimeout` each
    /// command (the service keeps the client's defaults; tests that check what Redis answers, not how soon,
    /// give a loaded machine longer).
    init(settings: RedisSettings, connectTimeout: TimeAmount? = nil, commandTimeout: TimeAmount? = nil) throws(ConfigError) {
        var tls: NIOSSLContext?
        if settings.useTLS {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            configuration.certificateVerification = .fullVerification
            configuration.trustRoots = settings.caFile.map { .file($0) } ?? .default
            do { tls = try NIOSSLContext(configuration: configuration) } catch {
                throw ConfigError(problems: ["$.shared_state.redis.ca_file: \(settings.caFile ?? "the system trust store") does not load: \(error)"])
            }
        }
        var configuration = RedisClient.Configuration(host: settings.host, port: settings.port, username: settings.username,
                                                      password: settings.password, database: settings.database, tls: tls)
        if let connectTimeout { configuration.connectTimeout = connectTimeout }
        if let commandTimeout { configuration.commandTimeout = commandTimeout }
        client = RedisClient(configuration: configuration)
        prefix = settings.prefix
    }

    func claimOnce(_ key: String, expiresAt: Int64, now: Int64) async throws(SharedStateError) -> Bool {
        let ms = max(1, expiresAt - now) * 1000
        switch try await send(["SET", prefix + key, "1", "NX", "PX", String(ms)]) {
        case .simpleString("OK"): return true
        case .null: return false
        case let other: throw SharedStateError("unexpected answer to SET NX: \(other)")
        }
    }

    func increment(_ key: String, window: Int64, now: Int64) async throws(SharedStateError) -> WindowCount {
        try Self.windowCount(try await send(["EVAL", Self.incrementScript, "1", prefix + key, String(window * 1000)]))
    }

    func peek(_ key: String, now: Int64) async throws(SharedStateError) -> WindowCount {
        try Self.windowCount(try await send(["EVAL", Self.peekScript, "1", prefix + key]))
    }

    var inProcess: InProcessState? { nil }

    func problem() async -> String? {
        do {
            _ = try await client.send(["PING"])
            return nil
        } catch {
            return error.description
        }
    }

    private func send(_ words: [String]) async throws(SharedStateError) -> RESPValue {
        do { return try await client.send(words) } catch { throw SharedStateError(error.description) }
    }

    private static func windowCount(_ value: RESPValue) throws(SharedStateError) -> WindowCount {
        guard case .array(let a) = value, a.count == 2, let n = a[0].int, let ms = a[1].int else {
            throw SharedStateError("unexpected answer from the counter script")
        }
        return WindowCount(count: Int(n), resetIn: ms > 0 ? max(1, (ms + 999) / 1000) : 0)
    }
}

/// Runs for the life of the service; at shutdown (after the server has drained) the connection is closed.
extension RedisState: Service {
    func run() async throws {
        try? await gracefulShutdown()
        client.close()
    }
}
