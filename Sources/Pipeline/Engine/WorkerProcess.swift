internal import CPipelineSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The service's handle on one pipeline worker process. Requests are written to the worker as they
/// come (the pool bounds how many are in flight) and the worker answers them in order, so under load
/// one wake-up carries many requests or replies. A reader thread per worker collects the replies,
/// watches the deadline of the request being run and the worker's memory, and kills the process when
/// either is broken: the request being run gets the error, the ones queued behind it had not begun
/// and are handed back to be sent again. No event-loop or concurrency thread ever blocks on a worker.
final class WorkerProcess: Sendable {
    enum Reply: Sendable {
        case frame([UInt8])
        /// The worker was killed (or died) while running function `index` of this request.
        case lost(index: Int?, reason: String)
        /// The request never began on a worker: safe to send again.
        case unavailable
    }

    /// What the reader enforces for a request once it is the one being run.
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
        var loaded: Set<Int> = []
        var alive = false
        var sent: Int64 = 0
        /// Requests written and not yet answered, the one the worker is on first.
        var inflight: [Waiter] = []
        /// When the first in flight became the first.
        var headSinceNS: Int64 = 0
        /// Wakes the reader thread when requests are in flight again.
        var armFD: Int32 = -1
    }

    private let state = Mutex(State())
    let launch: WorkerLaunch

    init(launch: WorkerLaunch) { self.launch = launch }

    var processID: Int32? { state.withLock { $0.alive ? $0.pid : nil } }

    /// Starts the process (stdin/stdout pipes, progress page on fd 3) and its reader thread, unless
    /// it is running.
    func ensureStarted() throws(PipelineLoadError) {
        try state.withLock { (s: inout State) throws(PipelineLoadError) in
            if !s.alive { try spawn(into: &s) }
        }
    }

    private func spawn(into s: inout State) throws(PipelineLoadError) {
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
        _ = fcntl(output[0], F_SETFL, fcntl(output[0], F_GETFL) | O_NONBLOCK)  // the reader drains it without blocking
        let armFD = ts_eventfd()
        guard armFD >= 0 else {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            close(input[1]); close(output[0]); board.unmap()
            throw PipelineLoadError(["cannot create an eventfd for the pipeline worker"])
        }
        let readFD = output[0], workerPID = pid
        s = State(pid: workerPID, toWorker: input[1], board: board, alive: true, armFD: armFD)
        Thread.detachNewThread { [self] in readLoop(fd: readFD, armFD: armFD, pid: workerPID) }
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
            enum Refused { case skipped, unavailable, broken(Int?) }
            let refused: Refused? = state.withLock { s in
                guard s.alive else { return .unavailable }
                if skip(&s) { return .skipped }
                // The pool keeps the bytes in flight below a pipe's capacity: this write does not wait.
                guard FrameIO.write(s.toWorker, frame) else { return .broken(s.board?.current().function?.index) }
                s.sent += 1
                if s.inflight.isEmpty {
                    s.headSinceNS = ProgressBoard.nowNS()
                    ts_eventfd_signal(s.armFD)
                }
                s.inflight.append(Waiter(frame: s.sent, continuation: c, limits: limits))
                return nil
            }
            switch refused {
            case nil: break
            case .skipped: c.resume(returning: nil)
            case .unavailable: c.resume(returning: .unavailable)
            case .broken(let index):
                // The worker died while nobody waited on it; whatever it was on is lost.
                terminate(culprit: .lost(index: index, reason: "pipeline worker died (crash or memory limit)"))
                c.resume(returning: .unavailable)
            }
        }
    }

    /// Owns the read end and the eventfd: they are closed only here, after the state no longer names
    /// them, so their numbers cannot be reused under anyone. One lock per wake-up.
    private func readLoop(fd: Int32, armFD: Int32, pid: pid_t) {
        defer { close(fd); close(armFD) }
        var reader = FrameReader()
        var lastMemoryCheck: Int64 = 0
        var busy = false
        while true {
            var pipeReady: Int32 = 0, armReady: Int32 = 0
            _ = ts_poll2(armFD, busy ? fd : -1, 20, &armReady, &pipeReady)
            if armReady != 0 { ts_eventfd_drain(armFD) }
            var replies: [[UInt8]] = [], closed = false
            if pipeReady != 0 {
                while true {
                    let n = reader.fill(fd)
                    while let frame = reader.next() { replies.append(frame) }
                    if n == 0 { closed = true }
                    if n <= 0 { break }
                }
            }
            // The page is read under the lock: `terminate` unmaps it only after taking it out of the state.
            typealias Head = (limits: Limits, since: Int64, running: (index: Int, startNS: Int64)?, any: Int?)
            let seen: (answered: [(CheckedContinuation<Reply?, Never>, [UInt8])], head: Head?)? = state.withLock { s in
                guard s.alive, s.pid == pid else { return nil }
                let n = min(replies.count, s.inflight.count)
                let answered = zip(s.inflight.prefix(n).map(\.continuation), replies.prefix(n)).map { ($0, $1) }
                s.inflight.removeFirst(n)
                if n > 0 { s.headSinceNS = ProgressBoard.nowNS() }
                busy = !s.inflight.isEmpty
                let progress = s.board?.current()
                let head = s.inflight.first.map { h -> Head in
                    (h.limits, s.headSinceNS, progress?.frame == h.frame ? progress?.function : nil, progress?.function?.index)
                }
                return (answered, head)
            }
            guard let seen else { return }
            for (c, frame) in seen.answered { c.resume(returning: .frame(frame)) }
            if closed {
                terminate(culprit: .lost(index: seen.head?.any, reason: "pipeline worker died (crash or memory limit)"))
                return
            }
            guard let head = seen.head else { continue }
            let now = ProgressBoard.nowNS(), limits = head.limits
            if let running = head.running, let timeout = limits.timeoutsMS[running.index] {
                if now - running.startNS > Int64(timeout + limits.graceMS) * 1_000_000 {
                    terminate(culprit: .lost(index: running.index, reason: "timed out after \(timeout) ms"))
                    return
                }
            } else if now - head.since > limits.budgetNS {
                terminate(culprit: .lost(index: head.running?.index, reason: "pipeline worker stopped answering"))
                return
            }
            if now - lastMemoryCheck > 20_000_000 {
                lastMemoryCheck = now
                let rss = ts_resident_bytes(pid)
                if rss > limits.memoryLimitBytes {
                    terminate(culprit: .lost(index: head.running?.index,
                                             reason: "exceeded the pipeline memory limit (\(limits.memoryLimitBytes >> 20) MiB)"))
                    return
                }
            }
        }
    }

    /// Kills and reaps the process. The request it was on gets `culprit`; the ones queued behind it
    /// had not begun and get `.unavailable`. The next user spawns afresh.
    func terminate(culprit: Reply = .lost(index: nil, reason: "pipeline worker stopped")) {
        let old: State = state.withLock { s in
            let old = s
            s = State()
            return old
        }
        if old.pid > 0 {
            kill(old.pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(old.pid, &status, 0) < 0 && errno == EINTR {}
            close(old.toWorker)
            old.board?.unmap()
        }
        for (n, waiter) in old.inflight.enumerated() { waiter.continuation.resume(returning: n == 0 ? culprit : .unavailable) }
    }

    deinit { terminate() }
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
