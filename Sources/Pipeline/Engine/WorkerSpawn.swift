internal import CPipelineSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting a worker process: its request pipe (stdin), reply pipe (stdout) and progress page (fd 3).
struct WorkerSpawn {
    var pid: pid_t
    /// Non-blocking write end of the worker's stdin.
    var toWorker: Int32
    /// Read end of the worker's stdout (the event loop takes it over).
    var fromWorker: Int32
    var board: ProgressBoard

    static func start(_ launch: WorkerLaunch) throws(PipelineLoadError) -> WorkerSpawn {
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
        var pid: pid_t = 0
        var cArgs = ([launch.executable] + launch.arguments).map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let rc = ts_spawn_worker(launch.executable, &cArgs, input[0], output[1], shm, &pid)
        close(input[0]); close(output[1])
        guard rc == 0 else {
            close(input[1]); close(output[0]); board.unmap()
            throw PipelineLoadError(["cannot start the pipeline worker \(launch.executable): \(String(cString: strerror(rc)))"])
        }
        // Writes never block the event loop: what a busy worker's full pipe does not take waits in the outbox.
        _ = fcntl(input[1], F_SETFL, fcntl(input[1], F_GETFL) | O_NONBLOCK)
        return WorkerSpawn(pid: pid, toWorker: input[1], fromWorker: output[0], board: board)
    }

    /// Kills the process and reaps it off the event loop (a large process can take a while to tear down).
    static func kill(_ pid: pid_t) {
        Glibc.kill(pid, SIGKILL)
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }
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
