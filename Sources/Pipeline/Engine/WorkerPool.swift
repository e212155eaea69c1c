import NIOCore
import NIOPosix
import Synchronization

/// A fixed set of workers, each taking several requests at a time and each read by one event loop.
/// A request goes to the worker of the loop it runs on (no thread hop) unless that one is clearly
/// busier than another, else to the worker with the fewest in flight. The requests and bytes in flight
/// per worker are bounded (about a pipe's capacity), so a stuck worker holds few requests and callers
/// wait their turn when every worker is full.
final class WorkerPool: Sendable {
    static let maxBytesInFlight = 48 * 1024
    static let maxRequestsInFlight = 32

    private struct Load {
        var requests = 0
        var bytes = 0
    }
    private struct State {
        var load: [Load]
        var waiters: [(bytes: Int, continuation: CheckedContinuation<Int, Never>)] = []
    }
    private let state: Mutex<State>
    let workers: [WorkerProcess]

    init(size: Int, launch: WorkerLaunch, group: any EventLoopGroup) {
        let loops = Array(group.makeIterator())
        workers = (0..<max(1, size)).map { i in WorkerProcess(launch: launch, eventLoop: loops[i % loops.count]) }
        state = Mutex(State(load: Array(repeating: Load(), count: workers.count)))
    }

    /// Reserves room for a request of `bytes` on a worker; pair with `release`.
    func acquire(bytes: Int) async -> WorkerProcess {
        let current = MultiThreadedEventLoopGroup.currentEventLoop
        let local = current.flatMap { loop in workers.firstIndex { $0.eventLoop === loop } }
        if let i = state.withLock({ Self.reserve(&$0, bytes, preferring: local) }) { return workers[i] }
        let i = await withCheckedContinuation { (c: CheckedContinuation<Int, Never>) in
            let i: Int? = state.withLock { s in
                if let i = Self.reserve(&s, bytes) { return i }
                s.waiters.append((bytes, c))
                return nil
            }
            if let i { c.resume(returning: i) }
        }
        return workers[i]
    }

    func release(_ worker: WorkerProcess, bytes: Int) {
        guard let i = workers.firstIndex(where: { $0 === worker }) else { return }
        let ready: [(CheckedContinuation<Int, Never>, Int)] = state.withLock { s in
            s.load[i].requests -= 1
            s.load[i].bytes -= bytes
            var ready: [(CheckedContinuation<Int, Never>, Int)] = []
            while let first = s.waiters.first, let j = Self.reserve(&s, first.bytes) {
                s.waiters.removeFirst()
                ready.append((first.continuation, j))
            }
            return ready
        }
        for (c, j) in ready { c.resume(returning: j) }
    }

    /// The preferred worker if it has room and is not clearly busier than the least loaded, else the
    /// least loaded worker with room (an idle worker always has room, whatever the size).
    private static func reserve(_ s: inout State, _ bytes: Int, preferring preferred: Int? = nil) -> Int? {
        func hasRoom(_ l: Load) -> Bool { l.requests == 0 || (l.requests < maxRequestsInFlight && l.bytes + bytes <= maxBytesInFlight) }
        var best: Int?
        for (i, l) in s.load.enumerated() where hasRoom(l) {
            if best.map({ l.requests < s.load[$0].requests }) ?? true { best = i }
        }
        if let preferred, let b = best, hasRoom(s.load[preferred]), s.load[preferred].requests <= s.load[b].requests + 4 { best = preferred }
        if let best {
            s.load[best].requests += 1
            s.load[best].bytes += bytes
        }
        return best
    }

    func processIDs() -> [Int32] { workers.compactMap(\.processID) }

    func shutdown() {
        for w in workers { w.terminate() }
    }
}
