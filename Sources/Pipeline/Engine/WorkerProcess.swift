internal import CPipelineSupport
import Foundation
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The service's handle on one pipeline worker process. Requests are written to the worker as they
/// come (the pool bounds how many are in flight) and the worker answers them in order. Its replies
/// are read by an event loop like any socket, so under load one wake-up carries many replies and the
/// waiting requests resume on that loop without a thread hop. While requests are in flight, a timer
/// on the same loop watches the deadline of the one being run and the worker's memory, and kills the
/// process when either is broken: the request being run gets the error, the ones queued behind it
/// had not begun and are handed back to be sent again. Nothing ever blocks an event loop on a worker.
final class WorkerProcess: Sendable {
    enum Reply: Sendable {
        case frame([UInt8])
        /// The worker was killed (or died) while running function `index` of this request.
        case lost(index: Int?, reason: String)
        /// The request never began on a worker: safe to send again.
        case unavailable
    }

    /// What the supervisor enforces for a request once it is the one being run.
    struct Limits: Sendable {
        /// Per function index: its timeout in ms.
        var timeoutsMS: [Int: Int]
        var graceMS: Int
        /// When no function is known to be running (between functions, loading), the reply is due
        /// this long after the request reached the front of the queue.
        var budgetNS: Int64
        var memoryLimitBytes: Int64
    }

    private struct Waiter {
        /// The frame's number in this worker's input (the worker counts from 1).
        var frame: Int64
        var continuation: CheckedContinuation<Reply?, Never>
        var limits: Limits
    }

    private struct State {
        var pid: pid_t = 0
        var toWorker: Int32 = -1
        var board: ProgressBoard?
        var channel: (any Channel)?
        var loaded: Set<Int> = []
        var alive = false
        var sent: Int64 = 0
        /// Requests written and not yet answered, the one the worker is on first.
        var inflight: [Waiter] = []
        /// When the first in flight became the first.
        var headSinceNS: Int64 = 0
        var supervising = false
        var lastMemoryCheckNS: Int64 = 0
        /// Frames not yet written: everything enqueued in one turn of the event loop goes out in one
        /// write (one wake-up of the worker).
        var outbox: [UInt8] = []
        var flushScheduled = false
    }

    /// Checks deadlines and memory this often while requests are in flight.
    static let supervisionInterval = TimeAmount.milliseconds(20)
    private let state = Mutex(State())
    let launch: WorkerLaunch
    /// The loop that reads this worker's replies and supervises it.
    let eventLoop: any EventLoop

    init(launch: WorkerLaunch, eventLoop: any EventLoop) {
        self.launch = launch
        self.eventLoop = eventLoop
    }

    var processID: Int32? { state.withLock { $0.alive ? $0.pid : nil } }

    /// Starts the process (stdin/stdout pipes, progress page on fd 3) unless it is running, and has
    /// the event loop watch its replies.
    func ensureStarted() throws(PipelineLoadError) {
        let started = try state.withLock { (s: inout State) throws(PipelineLoadError) -> (fd: Int32, pid: pid_t)? in
            s.alive ? nil : try spawn(into: &s)
        }
        guard let (readFD, pid) = started else { return }
        let watched = NIOPipeBootstrap(group: eventLoop)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(ByteToMessageHandler(FrameDecoder()), ReplyHandler(owner: self, pid: pid))
                }
            }
            .takingOwnershipOfDescriptor(input: readFD)
        watched.whenComplete { [self] result in
            switch result {
            case .success(let channel):
                let current = state.withLock { s in
                    guard s.alive, s.pid == pid else { return false }
                    s.channel = channel
                    return true
                }
                if !current { channel.close(promise: nil) }
            case .failure:
                close(readFD)
                terminate(pid: pid, culprit: .lost(index: nil, reason: "cannot watch the pipeline worker's replies"))
            }
        }
    }

    private func spawn(into s: inout State) throws(PipelineLoadError) -> (fd: Int32, pid: pid_t) {
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        guard ts_pipe_cloexec(&input) == 0 else { throw PipelineLoadError(["cannot create a pipe for the pipeline worker"]) }
        guard ts_pipe_cloexec(&output) == 0 else {
            close(input[0]); close(input[1])
            throw PipelineLoadError(["cannot create a pipe for the pipeline worker"])
        }
        let shm = ts_shared_memory_fd(ProgressBoard.size)
        defer { if shm >= 0 { close(shm) } }
        guard shm >= 0, let board = ProgressBoard(fd: shm) else {
            [input[0], input[1], output[0], output[1]].forEach { close($0) }
            throw PipelineLoadError(["cannot create shared memory for the pipeline worker"])
        }
        board.started(-1)
        var pid: pid_t = 0
        var cArgs = ([launch.executable] + launch.arguments).map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let rc = ts_spawn_worker(launch.executable, &cArgs, input[0], output[1], shm, &pid)
        close(input[0]); close(output[1])
        guard rc == 0 else {
            close(input[1]); close(output[0]); board.unmap()
            throw PipelineLoadError(["cannot start the pipeline worker \(launch.executable): \(String(cString: strerror(rc)))"])
        }
        _ = fcntl(input[1], F_SETFL, fcntl(input[1], F_GETFL) | O_NONBLOCK)  // see flushOutbox
        s = State(pid: pid, toWorker: input[1], board: board, alive: true)
        return (output[0], pid)
    }

    /// Sends a request and waits for its reply (or for the worker to be lost).
    func request(_ frame: [UInt8], limits: Limits) async -> Reply {
        await enqueue(frame, limits: limits, skipIf: { _ in false }) ?? .unavailable
    }

    /// Sends the load frame of `generation` unless this process already got it; requests sent after
    /// it are answered after it. Nil when there was nothing to send.
    func load(_ frame: [UInt8], generation: Int, limits: Limits) async -> Reply? {
        await enqueue(frame, limits: limits, skipIf: { !$0.loaded.insert(generation).inserted })
    }

    /// The load of `generation` failed: the next request sends it again.
    func forgetLoaded(_ generation: Int) { state.withLock { _ = $0.loaded.remove(generation) } }

    private func enqueue(_ frame: [UInt8], limits: Limits, skipIf skip: (inout State) -> Bool) async -> Reply? {
        await withCheckedContinuation { (c: CheckedContinuation<Reply?, Never>) in
            enum Outcome { case queued(pid: pid_t, flush: Bool, supervise: Bool), skipped, unavailable }
            let outcome: Outcome = state.withLock { s in
                guard s.alive else { return .unavailable }
                if skip(&s) { return .skipped }
                FrameIO.append(frame, to: &s.outbox)
                s.sent += 1
                if s.inflight.isEmpty { s.headSinceNS = ProgressBoard.nowNS() }
                s.inflight.append(Waiter(frame: s.sent, continuation: c, limits: limits))
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
        case .broken: terminate(pid: pid, culprit: .lost(index: nil, reason: "pipeline worker died (crash or memory limit)"))
        }
    }

    /// Replies read by the event loop, in order.
    fileprivate func received(_ replies: [[UInt8]], pid: pid_t) {
        let answered: [(CheckedContinuation<Reply?, Never>, [UInt8])] = state.withLock { s in
            guard s.alive, s.pid == pid else { return [] }
            let n = min(replies.count, s.inflight.count)
            let done = zip(s.inflight.prefix(n).map(\.continuation), replies.prefix(n)).map { ($0, $1) }
            s.inflight.removeFirst(n)
            if n > 0 { s.headSinceNS = ProgressBoard.nowNS() }
            return done
        }
        for (c, frame) in answered { c.resume(returning: .frame(frame)) }
    }

    /// The worker's output closed: it died.
    fileprivate func replyPipeClosed(pid: pid_t) {
        let index = state.withLock { s in s.pid == pid ? s.board?.current().function?.index : nil }
        terminate(pid: pid, culprit: .lost(index: index, reason: "pipeline worker died (crash or memory limit)"))
    }

    private func scheduleSupervision(pid: pid_t) {
        eventLoop.scheduleTask(in: Self.supervisionInterval) { [self] in supervise(pid: pid) }
    }

    /// Deadline of the request being run and memory of the worker; re-arms itself while busy.
    private func supervise(pid: pid_t) {
        typealias Head = (limits: Limits, since: Int64, running: (index: Int, startNS: Int64)?, checkMemory: Bool)
        let now = ProgressBoard.nowNS()
        // The page is read under the lock: `terminate` unmaps it only after taking it out of the state.
        let head: Head? = state.withLock { s in
            guard s.alive, s.pid == pid, let first = s.inflight.first else {
                if s.pid == pid { s.supervising = false }
                return nil
            }
            let progress = s.board?.current()
            let checkMemory = now - s.lastMemoryCheckNS >= 20_000_000
            if checkMemory { s.lastMemoryCheckNS = now }
            return (first.limits, s.headSinceNS, progress?.frame == first.frame ? progress?.function : nil, checkMemory)
        }
        guard let head else { return }
        let limits = head.limits
        if let running = head.running, let timeout = limits.timeoutsMS[running.index] {
            if now - running.startNS > Int64(timeout + limits.graceMS) * 1_000_000 {
                return terminate(pid: pid, culprit: .lost(index: running.index, reason: "timed out after \(timeout) ms"))
            }
        } else if now - head.since > limits.budgetNS {
            return terminate(pid: pid, culprit: .lost(index: head.running?.index, reason: "pipeline worker stopped answering"))
        }
        if head.checkMemory, ts_resident_bytes(pid) > limits.memoryLimitBytes {
            return terminate(pid: pid, culprit: .lost(index: head.running?.index,
                                                      reason: "exceeded the pipeline memory limit (\(limits.memoryLimitBytes >> 20) MiB)"))
        }
        scheduleSupervision(pid: pid)
    }

    /// Kills the process (if it is still `pid`). The request it was on gets `culprit`; the ones queued
    /// behind it had not begun and get `.unavailable`. The next user spawns afresh.
    func terminate(pid: pid_t? = nil, culprit: Reply = .lost(index: nil, reason: "pipeline worker stopped")) {
        let taken: (old: State, headStarted: Bool)? = state.withLock { s in
            guard s.alive, pid == nil || s.pid == pid else { return nil }
            let old = s
            s = State()
            // A request the worker never reached was not running: it can be sent again.
            let headStarted = old.inflight.first.map { head in (old.board?.current().frame ?? 0) >= head.frame } ?? false
            return (old, headStarted)
        }
        guard let (old, headStarted) = taken else { return }
        kill(old.pid, SIGKILL)
        close(old.toWorker)
        old.channel?.close(promise: nil)
        old.board?.unmap()
        // Reaped off the event loop: a large process can take a while to tear down.
        let dead = old.pid
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(dead, &status, 0) < 0 && errno == EINTR {}
        }
        for (n, waiter) in old.inflight.enumerated() {
            waiter.continuation.resume(returning: n == 0 && headStarted ? culprit : .unavailable)
        }
    }

    deinit { terminate() }
}

/// Splits the reply pipe's bytes into frames (4-byte little-endian length, then the payload).
private struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self),
              buffer.readableBytes >= 4 + Int(length),
              let frame = buffer.getBytes(at: buffer.readerIndex + 4, length: Int(length))
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4 + Int(length))
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}

/// Hands the frames of one read to the worker's owner at once.
private final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]
    private let owner: WorkerProcess
    private let pid: pid_t
    private var frames: [[UInt8]] = []

    init(owner: WorkerProcess, pid: pid_t) {
        self.owner = owner
        self.pid = pid
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { frames.append(unwrapInboundIn(data)) }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !frames.isEmpty else { return }
        let batch = frames
        frames.removeAll(keepingCapacity: true)
        owner.received(batch, pid: pid)
    }

    func channelInactive(context: ChannelHandlerContext) {
        channelReadComplete(context: context)
        owner.replyPipeClosed(pid: pid)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// How to start a worker: normally this very executable with the `pipeline-worker` subcommand.
public struct WorkerLaunch: Sendable {
    public var executable: String
    public var arguments: [String]
    public init(executable: String, arguments: [String]) {
        self.executable = executable
        self.arguments = arguments
    }

    /// The path of an executable in the same directory as the running one (tests find the built
    /// `tokenservice` next to their test bundle this way).
    public static func siblingExecutable(named name: String) -> String {
        var path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        while let range = path.range(of: "/", options: .backwards) {
            path = String(path[..<range.lowerBound])
            if FileManager.default.isExecutableFile(atPath: path + "/" + name) { return path + "/" + name }
        }
        return name
    }
}
