/// What replicas must agree on: one-time identifiers (client assertion and DPoP proof `jti`s) and
/// abuse counters. In-process by default (one replica); `shared_state.redis` puts it in Redis.
protocol SharedState: Sendable {
    /// Remembers `key` until `expiresAt` (seconds since the epoch). True when it was new.
    func claimOnce(_ key: String, expiresAt: Int64, now: Int64) async throws(SharedStateError) -> Bool
    /// Adds one to the counter `key` in its fixed window of `window` seconds (the window starts with
    /// the first count). Returns the count and the seconds until the window ends.
    func increment(_ key: String, window: Int64, now: Int64) async throws(SharedStateError) -> WindowCount
    /// The counter's value without counting.
    func peek(_ key: String, now: Int64) async throws(SharedStateError) -> WindowCount
    /// nil when healthy, else what is wrong (for /healthz).
    func problem() async -> String?
    /// This process's memory, when that is the shared state: it never has a problem (so /healthz need not
    /// ask) and never waits (so a request that uses nothing else is answered on the event loop).
    var inProcess: InProcessState? { get }
}

extension SharedState {
    var isLocal: Bool { inProcess != nil }
}

/// Keys in the shared state, built from parts that cannot run into each other: a `client_id` may contain
/// `:`, so each variable part is length-prefixed.
enum SharedStateKey {
    static func make(_ kind: String, _ parts: String...) -> String {
        var key = kind
        key.reserveCapacity(parts.reduce(kind.utf8.count + 1) { $0 + $1.utf8.count + 4 })
        key += ":"
        for part in parts {
            key += String(part.utf8.count)
            key += ":"
            key += part
        }
        return key
    }
}

struct WindowCount: Sendable, Equatable {
    var count: Int
    /// Seconds until the window ends (at least 1 while counting).
    var resetIn: Int64
    static let zero = WindowCount(count: 0, resetIn: 0)
}

/// The shared store cannot be reached (or is full, for the in-process one-time memory).
struct SharedStateError: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
