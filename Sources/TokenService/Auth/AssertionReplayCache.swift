import Synchronization

/// Remembers `jti`s of client assertions until they expire, so each is accepted once (RFC 7523 §3,
/// item 7). Bounded: when full, new assertions are refused rather than old jtis forgotten early.
final class AssertionReplayCache: Sendable {
    private let seen = Mutex<[String: Int64]>([:])
    let capacity: Int

    init(capacity: Int = 100_000) { self.capacity = capacity }

    enum Verdict: Equatable { case fresh, replayed, full }

    /// Records `jti` (scoped to the client) until `expiresAt`; says whether it was new.
    func record(clientID: String, jti: String, expiresAt: Int64, now: Int64) -> Verdict {
        let key = clientID + "\u{0}" + jti
        return seen.withLock { map in
            if let exp = map[key], exp >= now { return .replayed }
            if map.count >= capacity {
                map = map.filter { $0.value >= now }
                if map.count >= capacity { return .full }
            }
            map[key] = expiresAt
            return .fresh
        }
    }
}
