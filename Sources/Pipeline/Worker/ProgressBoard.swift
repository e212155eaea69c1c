internal import CPipelineSupport
#if canImport(Glibc)
import Glibc
#endif

/// A page of memory shared between the service and one worker (CLOCK_MONOTONIC times):
/// - what the worker's VM runs now: the frame, the function (index, and when it started, which is
///   when its timeout began even if it awaited the network since), and when this VM entry began;
/// - the highest frame the worker has read (frames above it have not begun);
/// - the frame number through which the service has cancelled frames it moved to another worker;
/// - how saturated the service's outbound HTTP is (`OutboundHTTP.Saturation`: refuse what it would refuse).
/// The supervisor reads it to apply each function's deadline and to see a stuck entry without a
/// message per function. Sendable: the struct itself is immutable and every access to the page it
/// points at is a sequentially consistent atomic load or store.
struct ProgressBoard: @unchecked Sendable {
    static let size = 64
    private enum Slot: Int { case function = 0, functionStart, frame, highestRead, cancelledThrough, entryStart, outbound }
    private let base: UnsafeMutablePointer<Int64>

    init?(fd: Int32) {
        guard let p = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else { return nil }
        base = p.assumingMemoryBound(to: Int64.self)
        left()
    }

    /// A private page, for a worker started by hand without fd 3 (debugging).
    init?() {
        guard let p = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else { return nil }
        base = p.assumingMemoryBound(to: Int64.self)
        left()
    }

    func unmap() { munmap(UnsafeMutableRawPointer(base), Self.size) }

    private func store(_ slot: Slot, _ value: Int64) { ts_atomic_store64(base + slot.rawValue, value) }
    private func load(_ slot: Slot) -> Int64 { ts_atomic_load64(base + slot.rawValue) }

    // MARK: Worker side

    /// The worker read frame `id`. False when the service cancelled it first (it must not begin).
    /// Stored before the cancel mark is read; the service stores the mark before reading this: one of
    /// the two always sees the other.
    func read(frame id: Int64) -> Bool {
        store(.highestRead, id)
        return load(.cancelledThrough) < id
    }

    /// A VM entry for `frame` begins now, running function `index` (-1: none, e.g. loading) that
    /// started at `functionStartNS`.
    func entering(frame: Int64, function index: Int, since functionStartNS: Int64) {
        store(.entryStart, ts_monotonic_ns())
        store(.frame, frame)
        store(.functionStart, functionStartNS)
        store(.function, Int64(index))
    }

    /// How full the service's outbound HTTP is (calls it would refuse: `ERR_OVERLOADED`).
    var outbound: OutboundHTTP.Saturation { OutboundHTTP.Saturation(rawValue: load(.outbound)) ?? .room }

    /// The VM entry ended.
    func left() {
        store(.function, -1)
        store(.entryStart, 0)
    }

    // MARK: Service side

    struct Reading {
        var frame: Int64
        /// The function of the running entry with the time it started; nil outside functions.
        var function: (index: Int, startNS: Int64)?
        /// When the running VM entry began; nil when the worker is not in the VM.
        var entryStartNS: Int64?
        var highestRead: Int64
    }

    func current() -> Reading {
        let entry = load(.entryStart)
        let index = load(.function)
        let start = load(.functionStart)
        return Reading(frame: load(.frame), function: index >= 0 ? (Int(index), start) : nil,
                       entryStartNS: entry != 0 ? entry : nil, highestRead: load(.highestRead))
    }

    /// Frames up to `id` that the worker has not read yet must not begin. Returns the highest frame it
    /// had read (those began; the ones above it never will).
    func cancel(through id: Int64) -> Int64 {
        store(.cancelledThrough, id)
        return load(.highestRead)
    }

    /// Refreshed whenever a frame is sent and on each supervision tick.
    func setOutbound(_ saturation: OutboundHTTP.Saturation) { store(.outbound, saturation.rawValue) }

    static func nowNS() -> Int64 { ts_monotonic_ns() }
}
