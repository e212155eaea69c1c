import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The service's handle on one pipeline worker process. Frames are written to the worker as they come
/// (the pool bounds how many runs wait in its pipe) and answered by id, possibly out of order: a run
/// whose function awaits the network parks in the worker while later runs go on, and its outbound
/// calls are made here, under the pipeline's `OutboundPolicy`. Replies are read by an event loop like
/// any socket. While frames are in flight, a timer on the same loop (WorkerSupervision.swift) enforces
/// each function's deadline and the worker's memory, and moves the runs that have not begun away from
/// a worker stuck in one VM entry. Nothing ever blocks an event loop on a worker.
final class WorkerProcess: Sendable {
    enum Reply: Sendable {
        case frame([UInt8], calls: [PipelineHTTPCall])
        /// The run's functions before its detached ones are done; the detached ones go on and their
        /// outcome goes to the run's `detached` handler.
        case answered([UInt8], calls: [PipelineHTTPCall])
        /// The worker was killed (or died) while running function `index` of this request.
        case lost(index: Int?, reason: String)
        /// The request never began on a worker (or its worker went away while it was parked): send it again.
        case unavailable
    }

    /// What the supervisor enforces for a frame.
    struct Limits: Sendable {
        /// Per function index: its timeout in ms.
        var timeoutsMS: [Int: Int]
        /// Per function index: its name (what a log line about the worker names).
        var names: [Int: String] = [:]
        /// The functions that run after the run was answered: their outbound calls never queue.
        var detached: Set<Int> = []
        var graceMS: Int
        /// The reply is due this long after the frame was sent, whatever it awaits.
        var budgetNS: Int64
        var memoryLimitBytes: Int64
    }

    struct Waiter {
        /// The caller awaiting the run; nil once the run was answered and only its detached functions are left.
        var continuation: CheckedContinuation<Reply?, Never>?
        /// Gets the outcome of the detached functions of a run that was answered.
        var detached: (@Sendable (Reply) -> Void)?
        var limits: Limits
        var sentNS: Int64
        var reservation: WorkerPool.Reservation?
        var outbound: OutboundPolicy
        /// Outbound calls made so far, per function index (bounded by `maxRequestsPerCall`).
        var callsPerFunction: [Int: Int] = [:]
        var calls: [PipelineHTTPCall] = []

        func deliver(_ reply: Reply) {
            if let continuation { continuation.resume(returning: reply) } else { detached?(reply) }
        }
    }

    struct State {
        var pid: pid_t = 0
        var toWorker: Int32 = -1
        var board: ProgressBoard?
        var channel: (any Channel)?
        var loaded: Set<Int> = []
        var alive = false
        /// After `terminate(final: true)`: never spawns again.
        var closed = false
        var sent: Int64 = 0
        /// Frames written and not answered, by id.
        var waiters: [Int64: Waiter] = [:]
        /// The VM entry (its start time) found stuck; its not-yet-begun frames were moved away.
        var stuckEntry: Int64?
        /// The VM entry that has run past `stuckAfterNS` of wall-clock time, and its thread's CPU time
        /// when first seen so: it is stuck once it has also used `stuckAfterNS` of CPU since.
        var longEntry: (startNS: Int64, cpuNS: Int64)?
        var supervising = false
        var lastMemoryCheckNS: Int64 = 0
        var lastOverdueCheckNS: Int64 = 0
        /// Frames not yet written: everything enqueued in one turn of the event loop goes out in one
        /// write (one wake-up of the worker).
        var outbox: [UInt8] = []
        var flushScheduled = false
    }

    let state = Mutex(State())
    let launch: WorkerLaunch
    /// The loop that reads this worker's replies and supervises it.
    let eventLoop: any EventLoop
    let events: WorkerEvents
    let outbound: LazyOutbound

    init(launch: WorkerLaunch, eventLoop: any EventLoop, events: WorkerEvents, outbound: LazyOutbound) {
        self.launch = launch
        self.eventLoop = eventLoop
        self.events = events
        self.outbound = outbound
    }

    var processID: Int32? { state.withLock { $0.alive ? $0.pid : nil } }
    var isAlive: Bool { state.withLock { $0.alive } }
    /// Alive with nothing in flight (no run waiting, parked or being answered).
    var isIdle: Bool { state.withLock { $0.alive && $0.waiters.isEmpty } }

    /// Alive and judged stuck by its supervisor (one VM entry long in wall-clock time and in CPU time, or
    /// very long in wall-clock time): what a spare is brought up for.
    var isStuck: Bool { state.withLock { $0.alive && $0.stuckEntry != nil } }

    /// Alive, and not inside one VM entry for longer than `WorkerSupervision.stuckAfterNS` (requests go
    /// to another worker meanwhile).
    func isHealthy(now: Int64) -> Bool {
        state.withLock { s in
            guard s.alive, let board = s.board else { return false }
            return board.current().entryStartNS.map { now - $0 <= WorkerSupervision.stuckAfterNS } ?? true
        }
    }

    /// Starts the process unless it is running, and has the event loop watch its replies.
    func ensureStarted() throws(PipelineLoadError) {
        let started = try state.withLock { (s: inout State) throws(PipelineLoadError) -> WorkerSpawn? in
            guard !s.closed else { throw PipelineLoadError(["the pipeline engine has shut down"]) }
            guard !s.alive else { return nil }
            let spawned = try WorkerSpawn.start(launch)
            s = State(pid: spawned.pid, toWorker: spawned.toWorker, board: spawned.board, alive: true)
            return spawned
        }
        guard let started else { return }
        let pid = started.pid
        WorkerChannel.watch(started.fromWorker, on: eventLoop, owner: self, pid: pid) { [self] result in
            switch result {
            case .success(let channel):
                let current = state.withLock { s in
                    guard s.alive, s.pid == pid else { return false }
                    s.channel = channel
                    return true
                }
                if !current { channel.close(promise: nil) }
            case .failure:
                close(started.fromWorker)
                terminate(pid: pid, reason: "cannot watch the pipeline worker's replies")
            }
        }
    }

    /// Sends a run and waits for its reply (or for the worker to be lost). When the reply is
    /// `.answered`, `detached` later gets the outcome of the run's detached functions, exactly once.
    func run(_ tail: [UInt8], limits: Limits, outbound: OutboundPolicy, reservation: WorkerPool.Reservation?,
             detached: (@Sendable (Reply) -> Void)? = nil) async -> Reply {
        await enqueue(.run, tail, limits: limits, outbound: outbound, reservation: reservation, detached: detached) { _ in false }
            ?? .unavailable
    }

    /// Sends the load frame of `generation` unless this process already got it; runs sent after it
    /// are answered after it. Nil when there was nothing to send.
    func load(_ tail: [UInt8], generation: Int, limits: Limits) async -> Reply? {
        // Loaded already (every run but a worker's first): no suspension.
        if state.withLock({ $0.alive && $0.loaded.contains(generation) }) { return nil }
        return await enqueue(.load, tail, limits: limits, outbound: .none, reservation: nil, detached: nil) { !$0.loaded.insert(generation).inserted }
    }

    /// The load of `generation` failed or never happened: the next request sends it again.
    func forgetLoaded(_ generation: Int) { state.withLock { _ = $0.loaded.remove(generation) } }

    private func enqueue(_ tag: Wire.Tag, _ tail: [UInt8], limits: Limits, outbound: OutboundPolicy, reservation: WorkerPool.Reservation?,
                         detached: (@Sendable (Reply) -> Void)?, skipIf skip: @escaping (inout State) -> Bool) async -> Reply? {
        await withCheckedContinuation { (c: CheckedContinuation<Reply?, Never>) in
            enum Outcome { case queued(pid: pid_t, flush: Bool, supervise: Bool), skipped, unavailable }
            let outcome: Outcome = state.withLock { s in
                guard s.alive else { return .unavailable }
                if skip(&s) { return .skipped }
                s.sent += 1
                Wire.append(tag, id: s.sent, tail: tail, to: &s.outbox)
                s.waiters[s.sent] = Waiter(continuation: c, detached: detached, limits: limits, sentNS: ProgressBoard.nowNS(),
                                           reservation: reservation, outbound: outbound)
                s.board?.setOutbound(self.outbound.saturation)
                defer { s.flushScheduled = true; s.supervising = true }
                return .queued(pid: s.pid, flush: !s.flushScheduled, supervise: !s.supervising)
            }
            switch outcome {
            case .queued(let pid, let flush, let supervise):
                if flush { eventLoop.execute { [self] in flushOutbox(pid: pid) } }
                if supervise { scheduleSupervision(pid: pid) }
            case .skipped: c.resume(returning: nil)
            case .unavailable: c.resume(returning: .unavailable)
            }
        }
    }

    /// Queues bytes for the worker (an outbound call's outcome) unless it is no longer `pid`.
    func send(_ frame: [UInt8], pid: pid_t) {
        let flush = state.withLock { s in
            guard s.alive, s.pid == pid else { return false }
            s.outbox.append(contentsOf: frame)
            defer { s.flushScheduled = true }
            return !s.flushScheduled
        }
        if flush { eventLoop.execute { [self] in flushOutbox(pid: pid) } }
    }

    /// Writes what was enqueued since the last flush. The pipe is non-blocking: what a busy (or hung)
    /// worker's full pipe does not take now stays queued and is tried again shortly, so the event loop,
    /// which also runs the supervisor, never waits on a worker.
    private func flushOutbox(pid: pid_t) {
        enum Result { case done, again, broken }
        let result: Result = state.withLock { s in
            guard s.alive, s.pid == pid else { return .done }
            guard let written = FrameIO.writeSome(s.toWorker, s.outbox) else { return .broken }
            s.outbox.removeFirst(written)
            if !s.outbox.isEmpty { return .again }
            s.flushScheduled = false
            return .done
        }
        switch result {
        case .done: break
        case .again: eventLoop.scheduleTask(in: .milliseconds(1)) { [self] in flushOutbox(pid: pid) }
        case .broken: terminate(pid: pid, reason: "pipeline worker died (crash or memory limit)")
        }
    }

    /// Frames read by the event loop.
    func received(_ payloads: [[UInt8]], pid: pid_t) {
        var answered: [(Waiter, Reply)] = []
        var calls: [(Wire.Message, Waiter?)] = []
        // Released after the lock: the pool's wake-up reads every worker's health (this one's lock too).
        var parked: [WorkerPool.Reservation] = []
        state.withLock { s in
            guard s.alive, s.pid == pid else { return }
            for payload in payloads {
                guard let message = Wire.Message(payload[...]) else { continue }
                switch message.tag {
                case .done:
                    if let w = s.waiters.removeValue(forKey: message.id) { answered.append((w, .frame(Array(message.body), calls: w.calls))) }
                case .answered:
                    // The caller has its reply; the run stays (without its reservation) for its detached functions.
                    guard var w = s.waiters[message.id], w.continuation != nil, w.detached != nil else { continue }
                    answered.append((w, .answered(Array(message.body), calls: w.calls)))
                    w.continuation = nil
                    w.reservation = nil
                    w.calls = []
                    s.waiters[message.id] = w
                case .cancelled:
                    if let w = s.waiters.removeValue(forKey: message.id) { answered.append((w, .unavailable)) }
                case .httpCall:
                    // The run parks in the worker: it no longer takes room in the pool.
                    if let reservation = s.waiters[message.id]?.reservation { parked.append(reservation) }
                    s.waiters[message.id]?.reservation = nil
                    if let fn = message.words.dropFirst().first.flatMap(Wire.integer).map(Int.init) {
                        s.waiters[message.id]?.callsPerFunction[fn, default: 0] += 1
                    }
                    calls.append((message, s.waiters[message.id]))
                case .load, .run, .httpResult:
                    continue
                }
            }
        }
        for reservation in parked { reservation.release() }
        for (w, reply) in answered {
            w.reservation?.release()
            w.deliver(reply)
        }
        for (message, waiter) in calls { outboundCall(message, waiter: waiter, pid: pid) }
    }

    /// Makes a run's outbound call, if its policy allows it, and sends the outcome back to the worker.
    private func outboundCall(_ message: Wire.Message, waiter: Waiter?, pid: pid_t) {
        let words = message.words.compactMap(Wire.integer)
        guard words.count == 3 else { return }
        let (id, call, function, functionStart) = (message.id, words[0], Int(words[1]), words[2])
        let reply = { @Sendable [self] (result: OutboundCall.Result, record: PipelineHTTPCall?) in
            if let record { state.withLock { s in if s.pid == pid { s.waiters[id]?.calls.append(record) } } }
            var frame: [UInt8] = []
            Wire.append(.httpResult, id: id, words: [String(call)], body: result.json, to: &frame)
            send(frame, pid: pid)
        }
        guard let waiter else { return reply(.refused(code: "ERR_CANCELED", message: "the request has ended"), nil) }
        let deadlineNS = functionStart + Int64(waiter.limits.timeoutsMS[function] ?? 0) * 1_000_000
        OutboundCall.perform(message.body, function: function, policy: waiter.outbound,
                             callNumber: waiter.callsPerFunction[function] ?? 0, deadlineNS: deadlineNS,
                             queueing: !waiter.limits.detached.contains(function), client: outbound.client(), done: reply)
    }

    /// The worker's output closed: it died.
    func replyPipeClosed(pid: pid_t) {
        terminate(pid: pid, reason: "pipeline worker died (crash or memory limit)")
    }

    /// Kills the process (if it is still `pid`). The frame running in the VM (if any) gets
    /// `.lost(function, reason)`; every other frame did not begin, or was parked on the network, and
    /// gets `.unavailable` to be sent again. With `final`, the worker never starts again.
    func terminate(pid: pid_t? = nil, reason: String = "pipeline worker stopped", final: Bool = false) {
        let taken: (old: State, culprit: Int64?, function: Int?)? = state.withLock { s in
            if final { s.closed = true }
            guard s.alive, pid == nil || s.pid == pid else { return nil }
            let old = s
            s = State(closed: old.closed)
            let reading = old.board?.current()
            return (old, reading?.entryStartNS != nil ? reading?.frame : nil, reading?.function?.index)
        }
        guard let (old, culprit, function) = taken else { return }
        WorkerSpawn.kill(old.pid)
        close(old.toWorker)
        old.channel?.close(promise: nil)
        old.board?.unmap()
        for (id, waiter) in old.waiters {
            waiter.reservation?.release()
            waiter.deliver(id == culprit ? .lost(index: function, reason: reason) : .unavailable)
        }
        if !old.closed { events.post(.lost, from: self) }
    }

    deinit { terminate(final: true) }
}

/// What a worker tells its pool: it is stuck in one VM entry, it was lost, or it is free again.
final class WorkerEvents: Sendable {
    /// The entry a worker is stuck in: the function running (nil outside one, e.g. while loading) and
    /// how long the entry has run.
    struct StuckEntry: Sendable {
        var function: String?
        var runningMS: Int64
    }
    enum Event: Sendable { case stuck(StuckEntry), lost, recovered }
    private let handler = Mutex<(@Sendable (Event, WorkerProcess) -> Void)?>(nil)

    func connect(_ body: @escaping @Sendable (Event, WorkerProcess) -> Void) { handler.withLock { $0 = body } }
    func post(_ event: Event, from worker: WorkerProcess) { handler.withLock { $0 }?(event, worker) }
}
