internal import CPipelineSupport
#if canImport(Glibc)
import Glibc
#endif

/// A page of memory shared between the service and one worker: which frame and function the worker
/// is running and since when (CLOCK_MONOTONIC). The supervisor reads it to apply each function's own
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

    /// Worker side: it is handling its `frame`th frame (counted from 1 since it started).
    func handling(frame: Int64) { ts_atomic_store64(base + 2, frame) }

    /// Worker side: function `index` (-1 = between functions) started now.
    func started(_ index: Int) {
        ts_atomic_store64(base + 1, ts_monotonic_ns())
        ts_atomic_store64(base, Int64(index))
    }

    /// Supervisor side: the frame being handled, and the running function with its start time (nil
    /// between functions).
    func current() -> (frame: Int64, function: (index: Int, startNS: Int64)?) {
        let index = ts_atomic_load64(base)
        let start = ts_atomic_load64(base + 1)
        let frame = ts_atomic_load64(base + 2)
        return (frame, index >= 0 ? (Int(index), start) : nil)
    }

    static func nowNS() -> Int64 { ts_monotonic_ns() }
}
