internal import CPipelineSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The service's handle on one pipeline worker process. One request at a time (the pool checks it
/// out). A typical reply comes within tens of microseconds, so the caller first checks for it
/// between `Task.yield()`s — under load the event loop serves other requests meanwhile and no thread
/// has to be woken for the reply. Past that short window the request is handed to the worker's
/// reader thread, which waits for the reply, watches the running function's deadline and the
/// worker's memory, and kills the process when either is broken. No event-loop or concurrency
/// thread ever blocks on a worker.
final class WorkerProcess: Sendable {
    enum Reply: Sendable {
        case frame([UInt8])
        /// The worker was killed (or died) while running function `index`.
        case lost(index: Int?, reason: String)
        /// The request never reached a worker (it had died while idle): safe to retry on a new one.
        case unavailable
    }

    /// What the reader enforces for the request in flight.
    struct Limits: Sendable {
        /// Per function index: its timeout in ms.
        var timeoutsMS: [Int: Int]
        var graceMS: Int
        /// When nothing is known to be running (between functions, loading), the reply is due by then.
        var overallDeadlineNS: Int64
        var memoryLimitBytes: Int64
    }

    private struct State: Sendable {
        var pid: pid_t = 0
        var toWorker: Int32 = -1
        var fromWorker: Int32 = -1
        var board: ProgressBoard?
        var loaded: Set<Int> = []
        var alive = false
        var pending: CheckedContinuation<Reply, Never>?
        var limits: Limits?
        /// The reader thread watches the reply pipe only while armed (a request handed to it).
        var armed = false
        /// Wakes the reader thread when a request is handed over.
        var armFD: Int32 = -1
        /// Bytes of a reply read so far, by whichever side read them.
        var buffer: [UInt8] = []
    }

    /// How long a caller looks for the reply itself before handing the wait to the reader thread.
    static let fastPathNS: Int64 = 200_000
    private let state = Mutex(State())
    let launch: WorkerLaunch

    init(launch: WorkerLaunch) { self.launch = launch }

    var isAlive: Bool { state.withLock { $0.alive } }
    var processID: Int32? { state.withLock { $0.alive ? $0.pid : nil } }
    func isLoaded(_ gen: Int) -> Bool { state.withLock { $0.loaded.contains(gen) } }
    func markLoaded(_ gen: Int) { state.withLock { _ = $0.loaded.insert(gen) } }

    /// Starts the process (stdin/stdout pipes, progress page on fd 3) and its reader thread.
    func spawn() throws(PipelineLoadError) {
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
        _ = fcntl(output[0], F_SETFL, fcntl(output[0], F_GETFL) | O_NONBLOCK)  // tryRead must never block
        let armFD = ts_eventfd()
        guard armFD >= 0 else {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            close(input[1]); close(output[0]); board.unmap()
            throw PipelineLoadError(["cannot create an eventfd for the pipeline worker"])
        }
        let readFD = output[0], workerPID = pid
        let fresh = State(pid: workerPID, toWorker: input[1], fromWorker: readFD, board: board, alive: true, armFD: armFD)
        state.withLock { $0 = fresh }
        Thread.detachNewThread { [self] in readLoop(fd: readFD, armFD: armFD, pid: workerPID) }
    }

    /// Sends a request and waits for its reply (or for the worker to be lost).
    func request(_ frame: [UInt8], limits: Limits) async -> Reply {
        let sent: Bool = state.withLock { s in
            guard s.alive, s.pending == nil, !s.armed else { return false }
            return FrameIO.write(s.toWorker, frame)
        }
        guard sent else {
            terminate()
            return .unavailable
        }
        let start = ProgressBoard.nowNS()
        while ProgressBoard.nowNS() - start < Self.fastPathNS {
            switch tryRead() {
            case .frame(let f): return .frame(f)
            case .closed:
                let index = state.withLock { $0.board?.current()?.index }
                terminate()
                return .lost(index: index, reason: "pipeline worker died (crash or memory limit)")
            case .pending: await Task.yield()
            }
        }
        return await withCheckedContinuation { (c: CheckedContinuation<Reply, Never>) in
            let ready: Reply? = state.withLock { s in
                guard s.alive else { return .lost(index: nil, reason: "pipeline worker is gone") }
                if let f = FrameIO.extract(&s.buffer) { return .frame(f) }
                s.pending = c
                s.limits = limits
                s.armed = true
                ts_eventfd_signal(s.armFD)
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }

    private enum ReadResult { case frame([UInt8]), pending, closed }

    /// Non-blocking: a complete reply if one has arrived.
    private func tryRead() -> ReadResult {
        state.withLock { s in
            guard s.alive else { return .closed }
            if let f = FrameIO.extract(&s.buffer) { return .frame(f) }
            while true {
                let n = FrameIO.fill(s.fromWorker, &s.buffer)
                if n == 0 { return .closed }
                if n < 0 { return .pending }
                if let f = FrameIO.extract(&s.buffer) { return .frame(f) }
            }
        }
    }

    /// Resumes the waiting request, optionally killing the process first.
    private func finish(_ reply: Reply, kill shouldKill: Bool) {
        if shouldKill { terminate(resumeWith: reply) } else {
            let c: CheckedContinuation<Reply, Never>? = state.withLock { s in
                defer { s.pending = nil; s.limits = nil; s.armed = false }
                return s.pending
            }
            c?.resume(returning: reply)
        }
    }

    /// Owns the read end and the eventfd: they are closed only here, after the state no longer names
    /// them, so their numbers cannot be reused under anyone.
    private func readLoop(fd: Int32, armFD: Int32, pid: pid_t) {
        defer { close(fd); close(armFD) }
        var lastMemoryCheck: Int64 = 0
        while true {
            let armed = state.withLock { $0.armed }
            var pipeReady: Int32 = 0, armReady: Int32 = 0
            _ = ts_poll2(armFD, armed ? fd : -1, 20, &armReady, &pipeReady)
            if armReady != 0 { ts_eventfd_drain(armFD) }
            guard state.withLock({ $0.alive && $0.pid == pid }) else { return }
            if pipeReady != 0 {
                switch tryRead() {
                case .frame(let frame): finish(.frame(frame), kill: false)
                case .closed:
                    let index = state.withLock { $0.board?.current()?.index }
                    finish(.lost(index: index, reason: "pipeline worker died (crash or memory limit)"), kill: true)
                    return
                case .pending: break
                }
            }
            let (limits, running) = state.withLock { s in (s.pending == nil ? nil : s.limits, s.board?.current()) }
            guard let limits else { continue }
            let now = ProgressBoard.nowNS()
            if let running, let timeout = limits.timeoutsMS[running.index] {
                if now - running.startNS > Int64(timeout + limits.graceMS) * 1_000_000 {
                    finish(.lost(index: running.index, reason: "timed out after \(timeout) ms"), kill: true)
                    return
                }
            } else if now > limits.overallDeadlineNS {
                finish(.lost(index: running?.index, reason: "pipeline worker stopped answering"), kill: true)
                return
            }
            if now - lastMemoryCheck > 20_000_000 {
                lastMemoryCheck = now
                let rss = ts_resident_bytes(pid)
                if rss > limits.memoryLimitBytes {
                    finish(.lost(index: running?.index, reason: "exceeded the pipeline memory limit (\(limits.memoryLimitBytes >> 20) MiB)"), kill: true)
                    return
                }
            }
        }
    }

    /// Kills and reaps the process; a waiting request gets `resumeWith`. The next user spawns afresh.
    func terminate(resumeWith reply: Reply = .lost(index: nil, reason: "pipeline worker stopped")) {
        let (old, pending): (State, CheckedContinuation<Reply, Never>?) = state.withLock { s in
            let old = s
            s = State()
            return (old, old.pending)
        }
        if old.pid > 0 {
            kill(old.pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(old.pid, &status, 0) < 0 && errno == EINTR {}
            close(old.toWorker)
            old.board?.unmap()
        }
        pending?.resume(returning: reply)
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
