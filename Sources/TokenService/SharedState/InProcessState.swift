import Claims
import Synchronization

/// This process's memory as the shared state (one replica). Bounded: when the one-time memory is full
/// of live entries a new one is refused (fail closed); when the counters are, the oldest windows are
/// evicted to make room (counting never stops) — an attacker who sends random keys cannot grow either.
final class InProcessState: SharedState {
    private struct Entry {
        var count: Int
        var expiresAt: Int64
    }
    private let onceMemory = Mutex<[String: Int64]>([:])
    private let counters = Mutex<[String: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 100_000) { self.capacity = capacity }

    func claimOnce(_ key: String, expiresAt: Int64, now: Int64) async throws(SharedStateError) -> Bool {
        try claimOnceNow(key, expiresAt: expiresAt, now: now)
    }

    func increment(_ key: String, window: Int64, now: Int64) async throws(SharedStateError) -> WindowCount {
        incrementNow(key, window: window, now: now)
    }

    func peek(_ key: String, now: Int64) async throws(SharedStateError) -> WindowCount {
        peekNow(key, now: now)
    }

    func problem() async -> String? { nil }
    var inProcess: InProcessState? { self }

    // The operations themselves: they never wait, so a request served on the event loop calls them directly.

    func claimOnceNow(_ key: String, expiresAt: Int64, now: Int64) throws(SharedStateError) -> Bool {
        let verdict: Bool? = onceMemory.withLock { map in
            if let exp = map[key], exp >= now { return false }
            if map.count >= capacity {
                map = map.filter { $0.value >= now }
                if map.count >= capacity { return nil }
            }
            map[key] = expiresAt
            return true
        }
        guard let verdict else { throw SharedStateError("the one-time memory is full") }
        return verdict
    }

    func incrementNow(_ key: String, window: Int64, now: Int64) -> WindowCount {
        counters.withLock { map in
            if var e = map[key], e.expiresAt > now {
                e.count += 1
                map[key] = e
                return WindowCount(count: e.count, resetIn: e.expiresAt - now)
            }
            if map[key] == nil, map.count >= capacity {
                map = map.filter { $0.value.expiresAt > now }
                if map.count >= capacity { Self.evictOldest(&map, keeping: capacity - max(1, capacity / 8)) }
            }
            map[key] = Entry(count: 1, expiresAt: now.saturatingAdd(window))
            return WindowCount(count: 1, resetIn: window)
        }
    }

    /// Drops the windows that end first until `keeping` remain (a batch at a time: one sort per
    /// capacity/8 new keys, not one per key).
    private static func evictOldest(_ map: inout [String: Entry], keeping: Int) {
        let doomed = map.sorted { $0.value.expiresAt < $1.value.expiresAt }.prefix(max(0, map.count - keeping))
        for (key, _) in doomed { map[key] = nil }
    }

    func peekNow(_ key: String, now: Int64) -> WindowCount {
        counters.withLock { map in
            guard let e = map[key], e.expiresAt > now else { return .zero }
            return WindowCount(count: e.count, resetIn: e.expiresAt - now)
        }
    }

    /// Entries held (tests check the bounds).
    var sizes: (once: Int, counters: Int) { (onceMemory.withLock { $0.count }, counters.withLock { $0.count }) }
}
