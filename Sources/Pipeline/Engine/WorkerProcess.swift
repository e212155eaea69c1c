internal import CPipelineSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The service's handle on one pipeline worker process. Checked out by one request at a time;
/// its mutable parts sit behind a lock so the handle itself can travel between tasks.
final class WorkerProcess: Sendable {
    struct State {
        var pid: pid_t = 0
        var toWorker: Int32 = -1
        var fromWorker: Int32 = -1
        var board: ProgressBoard?
        var buffer: [UInt8] = []
        var loaded: Set<Int> = []
        var alive = false
    }
    private let state = Mutex(State())
    let launch: WorkerLaunch

    init(launch: WorkerLaunch) { self.launch = launch }

    var isAlive: Bool { state.withLock { $0.alive } }
    var processID: Int32? { state.withLock { $0.alive ? $0.pid : nil } }

    func isLoaded(_ gen: Int) -> Bool { state.withLock { $0.loaded.contains(gen) } }
    func markLoaded(_ gen: Int) { state.withLock { _ = $0.loaded.insert(gen) } }

    /// Starts the process (stdin/stdout pipes, progress page on fd 3).
    func spawn() throws(PipelineLoadError) {
        try state.withLock { (s: inout State) throws(PipelineLoadError) in
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
            let argv = [launch.executable] + launch.arguments
            var cArgs = argv.map { strdup($0) } + [nil]
            defer { cArgs.forEach { free($0) } }
            let rc = ts_spawn_worker(launch.executable, &cArgs, input[0], output[1], shm, &pid)
            close(input[0]); close(output[1])
            guard rc == 0 else {
                close(input[1]); close(output[0]); board.unmap()
                throw PipelineLoadError(["cannot start the pipeline worker \(launch.executable): \(String(cString: strerror(rc)))"])
            }
            _ = fcntl(output[0], F_SETFL, fcntl(output[0], F_GETFL) | O_NONBLOCK)
            s = State(pid: pid, toWorker: input[1], fromWorker: output[0], board: board, buffer: [], loaded: [], alive: true)
        }
    }

    func send(_ frame: [UInt8]) -> Bool {
        state.withLock { s in
            guard s.alive else { return false }
            return FrameIO.write(s.toWorker, frame)
        }
    }

    enum Poll { case frame([UInt8]), pending, closed }

    /// Returns a complete reply if one is there after waiting up to `milliseconds`.
    func poll(milliseconds: Int32) -> Poll {
        let (buffered, fd) = state.withLock { s in (FrameIO.hasFrame(s.buffer), s.alive ? s.fromWorker : Int32(-1)) }
        if !buffered {
            if fd < 0 { return .closed }
            if milliseconds > 0 { _ = FrameIO.waitReadable(fd, milliseconds: milliseconds) }
        }
        return state.withLock { s in
            if let f = FrameIO.extract(&s.buffer) { return .frame(f) }
            guard s.alive else { return .closed }
            while true {
                let n = FrameIO.fill(s.fromWorker, &s.buffer)
                if n == 0 { return .closed }
                if n < 0 { return .pending }
                if let f = FrameIO.extract(&s.buffer) { return .frame(f) }
            }
        }
    }

    func progress() -> (index: Int, startNS: Int64)? { state.withLock { $0.board?.current() } }

    /// Resident memory of the process, in bytes (nil when it is not running).
    func residentBytes() -> Int64? {
        let pid = state.withLock { $0.pid }
        guard pid > 0 else { return nil }
        let rss = ts_resident_bytes(pid)
        return rss >= 0 ? rss : nil
    }

    /// Kills and reaps the process; the next user spawns a fresh one.
    func terminate() {
        state.withLock { s in
            guard s.pid > 0 else { return }
            kill(s.pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(s.pid, &status, 0) < 0 && errno == EINTR {}
            close(s.toWorker); close(s.fromWorker)
            s.board?.unmap()
            s = State()
        }
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
