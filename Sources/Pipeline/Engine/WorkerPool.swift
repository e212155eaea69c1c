import Synchronization

/// A fixed set of workers handed out one request at a time; callers wait their turn.
final class WorkerPool: Sendable {
    private struct State {
        var idle: [WorkerProcess]
        var waiters: [CheckedContinuation<WorkerProcess, Never>] = []
        var all: [WorkerProcess]
    }
    private let state: Mutex<State>

    init(size: Int, launch: WorkerLaunch) {
        let workers = (0..<size).map { _ in WorkerProcess(launch: launch) }
        state = Mutex(State(idle: workers, all: workers))
    }

    func checkout() async -> WorkerProcess {
        if let w = state.withLock({ $0.idle.popLast() }) { return w }
        return await withCheckedContinuation { (c: CheckedContinuation<WorkerProcess, Never>) in
            let ready: WorkerProcess? = state.withLock { s in
                if let w = s.idle.popLast() { return w }
                s.waiters.append(c)
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }

    func checkin(_ worker: WorkerProcess) {
        let waiter: CheckedContinuation<WorkerProcess, Never>? = state.withLock { s in
            if s.waiters.isEmpty {
                s.idle.append(worker)
                return nil
            }
            return s.waiters.removeFirst()
        }
        waiter?.resume(returning: worker)
    }

    func processIDs() -> [Int32] { state.withLock { $0.all }.compactMap(\.processID) }

    func shutdown() {
        for w in state.withLock({ $0.all }) { w.terminate() }
    }
}
