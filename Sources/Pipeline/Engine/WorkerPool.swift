import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The workers: `core` of them (one per core) kept running, plus as many spares, started only while
/// core workers are stuck in a function, so healthy work always has somewhere to go; a spare idle for
/// `spareIdle` while every core worker is healthy is stopped again.
/// A request goes to a healthy worker with room — the one of the loop it runs on (no thread hop)
/// unless that one is clearly busier, else the least loaded. The runs and bytes waiting per worker
/// are bounded (about a pipe's capacity); a run parked on the network no longer counts. Callers wait
/// their turn when every healthy worker is full.
final class WorkerPool: Sendable {
    static let maxBytesInFlight = 48 * 1024
    static let maxRequestsInFlight = 32

    /// Room on one worker, held by one request until it is answered, parks or is moved; release is idempotent.
    final class Reservation: Sendable {
        let index: Int
        let bytes: Int
        private let pool: WorkerPool
        private let released = Atomic<Bool>(false)
        init(pool: WorkerPool, index: Int, bytes: Int) {
            self.pool = pool
            self.index = index
            self.bytes = bytes
        }
        func release() {
            guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
            pool.release(index: index, bytes: bytes)
        }
    }

    private struct Load {
        var requests = 0
        var bytes = 0
    }
    private struct State {
        var load: [Load]
        /// When each worker last had work (monotonic ns): spares idle long enough are stopped.
        var lastBusyNS: [Int64]
        var retirementScheduled = false
        var watchdogArmed = false
        var warming: Set<Int> = []
        var closed = false
        var waiters: [(bytes: Int, continuation: CheckedContinuation<Reservation?, Never>)] = []
    }
    private let state: Mutex<State>
    let workers: [WorkerProcess]
    let core: Int
    let spareIdle: Duration
    /// The engine's: a worker found stuck and a spare stopped are logged.
    private let logger: Logger
    /// A function that always runs long makes a worker stuck on every call: one line a second at most.
    private let stuckWarning = ThrottledWarning("pipeline worker stuck in one entry: its other runs go to other workers")
    /// Starts a worker and loads the current pipelines into it (set by the engine).
    private let warmer = Mutex<(@Sendable (WorkerProcess) async -> Void)?>(nil)

    init(size: Int, launch: WorkerLaunch, group: any EventLoopGroup, spareIdle: Duration = .seconds(30),
         outbound: LazyOutbound, logger: Logger) {
        let loops = Array(group.makeIterator())
        core = max(1, size)
        self.spareIdle = spareIdle
        self.logger = logger
        let events = WorkerEvents()
        workers = (0..<(2 * core)).map { i in
            WorkerProcess(launch: launch, eventLoop: loops[i % loops.count], events: events, outbound: outbound)
        }
        state = Mutex(State(load: Array(repeating: Load(), count: workers.count), lastBusyNS: Array(repeating: 0, count: workers.count)))
        events.connect { [weak self] event, worker in self?.handle(event, from: worker) }
    }

    func setWarmer(_ body: @escaping @Sendable (WorkerProcess) async -> Void) { warmer.withLock { $0 = body } }

    /// Reserves room for a request of `bytes`; nil once the pool has shut down.
    func acquire(bytes: Int) async -> Reservation? {
        let current = MultiThreadedEventLoopGroup.currentEventLoop
        let local = current.flatMap { loop in workers.prefix(core).firstIndex { $0.eventLoop === loop } }
        let healthy = healthyWorkers()
        enum First { case got(Reservation?), wait }
        let first: First = state.withLock { s in
            if s.closed { return .got(nil) }
            return reserve(&s, bytes, healthy: healthy, preferring: local).map { .got($0) } ?? .wait
        }
        if case .got(let r) = first { return r }
        startReplacements()
        return await withCheckedContinuation { (c: CheckedContinuation<Reservation?, Never>) in
            let healthy = healthyWorkers()
            let got: Reservation?? = state.withLock { s in
                if s.closed { return .some(nil) }
                if let r = reserve(&s, bytes, healthy: healthy) { return .some(r) }
                s.waiters.append((bytes, c))
                return .none
            }
            if let got { c.resume(returning: got) } else { armWatchdog() }
        }
    }

    /// While callers wait, look again every 5 ms: a worker's health is read from its progress page, and one
    /// that leaves a long entry without ever being marked stuck posts no event that would wake them.
    private func armWatchdog() {
        let arm = state.withLock { s in
            defer { s.watchdogArmed = true }
            return !s.watchdogArmed && !s.waiters.isEmpty && !s.closed
        }
        guard arm else { return }
        workers[0].eventLoop.scheduleTask(in: WorkerSupervision.interval) { [self] in
            state.withLock { $0.watchdogArmed = false }
            wake()
            armWatchdog()
        }
    }

    private func release(index: Int, bytes: Int) {
        state.withLock { s in
            s.load[index].requests -= 1
            s.load[index].bytes -= bytes
            s.lastBusyNS[index] = ProgressBoard.nowNS()
        }
        wake()
    }

    /// Hands room to waiting callers, first come first served.
    private func wake() {
        guard state.withLock({ !$0.waiters.isEmpty }) else { return }
        let healthy = healthyWorkers()
        let ready: [(CheckedContinuation<Reservation?, Never>, Reservation?)] = state.withLock { s in
            var ready: [(CheckedContinuation<Reservation?, Never>, Reservation?)] = []
            if s.closed {
                ready = s.waiters.map { ($0.continuation, nil) }
                s.waiters = []
                return ready
            }
            while let first = s.waiters.first, let r = reserve(&s, first.bytes, healthy: healthy) {
                s.waiters.removeFirst()
                ready.append((first.continuation, r))
            }
            return ready
        }
        for (c, r) in ready { c.resume(returning: r) }
    }

    private func healthyWorkers() -> [Bool] {
        let now = ProgressBoard.nowNS()
        return workers.map { $0.isHealthy(now: now) }
    }

    /// The preferred worker if it is healthy, has room and is not clearly busier than the least
    /// loaded, else the least loaded healthy worker with room (an idle one always has room). While a core
    /// worker is unhealthy (in a long entry, or being replaced) spares stand in for it and share the work;
    /// once every core worker is healthy, core workers first, so a spare goes idle under any load and retires.
    private func reserve(_ s: inout State, _ bytes: Int, healthy: [Bool], preferring preferred: Int? = nil) -> Reservation? {
        func usable(_ i: Int) -> Bool {
            let l = s.load[i]
            return healthy[i] && !s.warming.contains(i)
                && (l.requests == 0 || (l.requests < Self.maxRequestsInFlight && l.bytes + bytes <= Self.maxBytesInFlight))
        }
        var best: Int?
        let tiers = (0..<core).allSatisfy({ healthy[$0] }) ? [0..<core, core..<workers.count] : [0..<workers.count]
        for tier in tiers where best == nil {
            for i in tier where usable(i) {
                if best.map({ s.load[i].requests < s.load[$0].requests }) ?? true { best = i }
            }
        }
        if let preferred, let b = best, usable(preferred), tiers.contains(where: { $0.contains(preferred) && $0.contains(b) }),
           s.load[preferred].requests <= s.load[b].requests + 4 {
            best = preferred
        }
        guard let best else { return nil }
        s.load[best].requests += 1
        s.load[best].bytes += bytes
        s.lastBusyNS[best] = ProgressBoard.nowNS()
        return Reservation(pool: self, index: best, bytes: bytes)
    }

    private func handle(_ event: WorkerEvents.Event, from worker: WorkerProcess) {
        switch event {
        case .stuck(let entry):
            let spares = startReplacements()
            stuckWarning.note(logger: logger) {
                ["function": "\(entry.function ?? "(none)")", "running_ms": "\(entry.runningMS)", "pid": "\(worker.processID ?? 0)",
                 "spare_started": "\(spares > 0)"]
            }
        case .lost: startReplacements()
        case .recovered: wake()
        }
    }

    /// Keeps `core` healthy workers: starts stopped core workers, and spares for the stuck ones.
    /// Returns how many spares it starts.
    @discardableResult
    func startReplacements() -> Int {
        let alive = workers.map(\.isAlive)
        // Stuck as the supervisor judges it: a worker only slow (waiting for a core on a loaded machine)
        // gets no spare, its requests just go to another worker meanwhile.
        let stuck = workers.map(\.isStuck)
        let toWarm: [Int] = state.withLock { s in
            guard !s.closed else { return [] }
            var out: [Int] = []
            // Core workers are always kept running.
            for i in 0..<core where !alive[i] && !s.warming.contains(i) { out.append(i) }
            // One spare per core worker stuck in a function, up to the spares there are. (A core worker
            // that is being replaced is ready as soon as a spare would be.)
            let stuckCores = (0..<core).filter { stuck[$0] }.count
            let sparesUp = (core..<workers.count).filter { (alive[$0] && !stuck[$0]) || s.warming.contains($0) }.count
            var needed = stuckCores - sparesUp
            for i in core..<workers.count where needed > 0 && !alive[i] && !s.warming.contains(i) {
                out.append(i)
                needed -= 1
            }
            s.warming.formUnion(out)
            return out
        }
        guard let warm = warmer.withLock({ $0 }) else {
            state.withLock { s in s.warming.subtract(toWarm) }
            return 0
        }
        for i in toWarm {
            Task { [self] in
                await warm(workers[i])
                state.withLock { s in
                    s.warming.remove(i)
                    s.lastBusyNS[i] = ProgressBoard.nowNS()
                }
                wake()
                if i >= core { scheduleRetirement() }
            }
        }
        return toWarm.filter { $0 >= core }.count
    }

    /// Checks the spares every half `spareIdle` while any runs.
    private func scheduleRetirement() {
        let start = state.withLock { s in
            defer { s.retirementScheduled = true }
            return !s.retirementScheduled && !s.closed
        }
        guard start else { return }
        let half = spareIdle / 2
        workers[0].eventLoop.scheduleTask(in: .nanoseconds(Int64(half.components.seconds) * 1_000_000_000 + half.components.attoseconds / 1_000_000_000)) {
            [self] in retireIdleSpares()
        }
    }

    /// Stops spares that had nothing to do for `spareIdle`, unless a core worker is stuck (then the
    /// spare is still the capacity that healthy work relies on).
    private func retireIdleSpares() {
        let now = ProgressBoard.nowNS()
        let idleNS = Int64(spareIdle.components.seconds) * 1_000_000_000 + spareIdle.components.attoseconds / 1_000_000_000
        let coresHealthy = !workers.prefix(core).contains { $0.isStuck }
        let alive = workers.map(\.isAlive), idle = workers.map(\.isIdle)
        let retire: [Int] = state.withLock { s in
            s.retirementScheduled = false
            guard coresHealthy, !s.closed else { return [] }
            return (core..<workers.count).filter { i in
                idle[i] && s.load[i].requests == 0 && !s.warming.contains(i) && now - s.lastBusyNS[i] >= idleNS
            }
        }
        for i in retire { workers[i].terminate(reason: "idle spare stopped") }
        if !retire.isEmpty {
            logger.info("idle pipeline spare stopped", metadata: ["stopped": "\(retire.count)", "idle_for": "\(spareIdle)"])
        }
        if (core..<workers.count).contains(where: { alive[$0] && !retire.contains($0) }) { scheduleRetirement() }
    }

    func processIDs() -> [Int32] { workers.compactMap(\.processID) }

    /// The worker processes running: core ones, and spares brought up for stuck core workers.
    func running() -> (core: Int, spare: Int) {
        let alive = workers.map(\.isAlive)
        return (alive[..<core].filter { $0 }.count, alive[core...].filter { $0 }.count)
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Final: stops every worker, and none is started again.
    func shutdown() {
        state.withLock { $0.closed = true }
        for w in workers { w.terminate(final: true) }
        wake()
    }
}
