internal import CPipelineSupport
#if canImport(Glibc)
import Glibc
#endif

/// A page of memory shared between the service and one worker: which function the worker is
/// running and since when (CLOCK_MONOTONIC). The supervisor reads it to apply each function's own
/// deadline without a message per function. Sendable: the struct itself is immutable and every access
/// to the page it points at is a sequentially consistent atomic load or store.
struct ProgressBoard: @unchecked Sendable {
    static let size = 64
    private let base: UnsafeMutablePointer<Int64>

    init?(fd: Int32) {
        guard let p = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else { return nil }
        base = p.assumingMemoryBound(to: Int64.self)
    }

    /// A private page, for a worker started by hand without fd 3 (debugging).
    init?() {
        guard let p = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else { return nil }
        base = p.assumingMemoryBound(to: Int64.self)
    }

    func unmap() { munmap(UnsafeMutableRawPointer(base), Self.size) }

    /// Worker side: function `index` (-1 = between functions) started now.
    func started(_ index: Int) {
        ts_atomic_store64(base + 1, ts_monotonic_ns())
        ts_atomic_store64(base, Int64(index))
    }

    /// Supervisor side: the running function and its start time, or nil between functions.
    func current() -> (index: Int, startNS: Int64)? {
        let index = ts_atomic_load64(base)
        guard index >= 0 else { return nil }
        return (Int(index), ts_atomic_load64(base + 1))
    }

    static func nowNS() -> Int64 { ts_monotonic_ns() }
}
