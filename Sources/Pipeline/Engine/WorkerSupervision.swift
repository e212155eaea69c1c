import NIOCore
internal import CPipelineSupport
#if canImport(Glibc)
import Glibc
#endif

/// The supervisor of one worker: a timer on the worker's event loop, armed while frames are in flight.
/// Each tick it reads the progress page and
/// - kills the worker when the function in the VM has passed its timeout (plus grace) or the worker
///   has passed its memory limit: that one request fails, the others are sent again;
/// - when one VM entry has run longer than `stuckAfterNS` and used that much CPU too (no healthy entry
///   takes that long: calls take microseconds; a thread only waiting for a core on a loaded machine is
///   slow, not stuck), hands every other frame back to be sent to another worker at once (the
///   unread ones are cancelled), and tells the pool (which stops choosing it and warms a spare);
/// - fails a frame that has outlived its whole budget (a worker that stopped answering it);
/// - runs a stuck worker's VM thread at the lowest CPU priority until it leaves that entry: a function
///   may legitimately run long, but never at the other requests' expense (a loop would otherwise take a
///   core from them until its kill).
enum WorkerSupervision {
    static let interval = TimeAmount.milliseconds(5)
    static let stuckAfterNS: Int64 = 5_000_000
    /// An entry this long is stuck whatever its CPU time says (a thread that waits without computing).
    static let stuckAfterWallNS: Int64 = 250_000_000
    static let memoryCheckNS: Int64 = 20_000_000
    /// Budgets are seconds long: looking through every frame in flight (up to thousands parked on
    /// the network) on each 5 ms tick would cost more than the runs themselves.
    static let overdueCheckNS: Int64 = 50_000_000
    static let stuckNice: Int32 = 19
}

extension WorkerSupervision {
    /// Whether the VM entry that began at `entry`, already past `stuckAfterNS` of wall-clock time, is
    /// stuck: it has also used `stuckAfterNS` of CPU since it was first seen so, or has run
    /// `stuckAfterWallNS` in all. Without a readable CPU time the wall clock alone decides.
    static func isStuck(entry: Int64, now: Int64, pid: pid_t, state s: inout WorkerProcess.State) -> Bool {
        if s.stuckEntry == entry || now - entry > stuckAfterWallNS { return true }
        let cpu = ts_main_thread_cpu_ns(pid)
        guard cpu >= 0 else { return true }
        guard let seen = s.longEntry, seen.startNS == entry else {
            s.longEntry = (entry, cpu)
            return false
        }
        return cpu - seen.cpuNS > stuckAfterNS
    }
}

extension WorkerProcess {
    func scheduleSupervision(pid: pid_t) {
        eventLoop.scheduleTask(in: WorkerSupervision.interval) { [self] in supervise(pid: pid) }
    }

    private enum Verdict {
        case idle
        /// Nothing is in flight any more, and the worker had been stuck: the entry has ended.
        case idleRecovered
        case kill(String)
        /// `stuck`: the worker was found stuck in this entry just now.
        case watch(moved: [Waiter], overdue: [Waiter], stuck: WorkerEvents.StuckEntry?, recovered: Bool)
    }

    /// The worker became stuck in one entry, or left it: its main (VM) thread goes to nice 19 or back
    /// to 0 (going back needs CAP_SYS_NICE or RLIMIT_NICE: without it the worker stays low until it is
    /// replaced), and the pool hears of it.
    private func noteStuck(_ entry: WorkerEvents.StuckEntry?, pid: pid_t) {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(pid), entry != nil ? WorkerSupervision.stuckNice : 0)
        events.post(entry.map { .stuck($0) } ?? .recovered, from: self)
    }

    func supervise(pid: pid_t) {
        let now = ProgressBoard.nowNS()
        let verdict: Verdict = state.withLock { s in
            guard s.alive, s.pid == pid, !s.waiters.isEmpty, let board = s.board else {
                guard s.pid == pid else { return .idle }
                s.supervising = false
                guard s.alive, s.stuckEntry != nil else { return .idle }
                s.stuckEntry = nil
                return .idleRecovered
            }
            board.setOutbound(outbound.saturation)
            let reading = board.current()
            let limits = s.waiters[reading.frame]?.limits
            if reading.entryStartNS != nil, let fn = reading.function, let timeout = limits?.timeoutsMS[fn.index],
               now - fn.startNS > Int64(timeout + (limits?.graceMS ?? 0)) * 1_000_000 {
                return .kill("timed out after \(timeout) ms")
            }
            if now - s.lastMemoryCheckNS >= WorkerSupervision.memoryCheckNS {
                s.lastMemoryCheckNS = now
                let limit = s.waiters.values.first?.limits.memoryLimitBytes ?? .max
                if ts_resident_bytes(pid) > limit { return .kill("exceeded the pipeline memory limit (\(limit >> 20) MiB)") }
            }
            var moved: [Waiter] = [], overdue: [Waiter] = []
            var stuck: WorkerEvents.StuckEntry?, recovered = false
            if let entry = reading.entryStartNS, now - entry > WorkerSupervision.stuckAfterNS,
               WorkerSupervision.isStuck(entry: entry, now: now, pid: pid, state: &s) {
                if s.stuckEntry != entry {
                    stuck = .init(function: reading.function.flatMap { limits?.names[$0.index] }, runningMS: (now - entry) / 1_000_000)
                }
                s.stuckEntry = entry
                // Every frame but the stuck one goes elsewhere, every tick (one may have been sent since,
                // chosen just before the pool saw the worker stuck). Frames the worker has not read are
                // cancelled; the ones it read before the stuck one may be answered, but their replies (and
                // their outbound calls) wait unflushed in the worker: nothing of them has left it.
                // Runs parked on the network there go too (their calls are made again elsewhere:
                // outbound calls are at-least-once).
                if s.waiters.count > 1 || s.waiters[reading.frame] == nil {
                    _ = board.cancel(through: s.sent)
                    for id in s.waiters.keys where id != reading.frame {
                        if let w = s.waiters.removeValue(forKey: id) { moved.append(w) }
                    }
                }
            } else if s.stuckEntry != nil, reading.entryStartNS != s.stuckEntry {
                s.stuckEntry = nil
                recovered = true
            }
            if now - s.lastOverdueCheckNS >= WorkerSupervision.overdueCheckNS {
                s.lastOverdueCheckNS = now
                let late = s.waiters.keys.filter { id in
                    guard id != reading.frame || reading.entryStartNS == nil, let w = s.waiters[id] else { return false }
                    return now - w.sentNS > w.limits.budgetNS
                }
                for id in late { if let w = s.waiters.removeValue(forKey: id) { overdue.append(w) } }
            }
            return .watch(moved: moved, overdue: overdue, stuck: stuck, recovered: recovered)
        }
        switch verdict {
        case .idle:
            return
        case .idleRecovered:
            noteStuck(nil, pid: pid)
        case .kill(let reason):
            terminate(pid: pid, reason: reason)
        case .watch(let moved, let overdue, let stuck, let recovered):
            for w in moved {
                w.reservation?.release()
                w.deliver(.unavailable)
            }
            for w in overdue {
                w.reservation?.release()
                w.deliver(.lost(index: nil, reason: "the pipeline worker did not answer in time"))
            }
            if let stuck { noteStuck(stuck, pid: pid) }
            if recovered { noteStuck(nil, pid: pid) }
            scheduleSupervision(pid: pid)
        }
    }
}
