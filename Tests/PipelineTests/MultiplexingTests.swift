import Foundation
import JSONCore
import Pipeline
import Testing

/// Several requests are in flight on one worker at a time: every reply reaches its own request, and
/// when a worker is killed the requests queued behind the culprit are sent again, not failed.
@Suite(.serialized) struct MultiplexingTests {
    static let echo = Fn(name: "echo", source: "async function pipe(u, c, cb) { await null; c.addAccessToken('n', c.n); cb(null, u, c); }")

    @Test func everyReplyReachesItsOwnRequest() async throws {
        let engine = TestWorker.engine(workers: 2)
        defer { engine.shutdown() }
        let pipeline = try await engine.prepare([Self.echo.spec], trigger: .preAccessToken)
        let claims = await withTaskGroup(of: (Int, JSONObject).self) { group in
            for n in 0..<400 {
                group.addTask {
                    let r = await engine.run(pipeline, user: .null, context: ["n": .int(Int64(n))])
                    var o = JSONObject()
                    r.extensions.apply(to: &o)
                    return (n, o)
                }
            }
            var all: [Int: JSONObject] = [:]
            for await (n, o) in group { all[n] = o }
            return all
        }
        #expect(claims.count == 400)
        for (n, o) in claims { #expect(o == ["n": .int(Int64(n))], "request \(n) got \(o)") }
    }

    @Test func aWorkerThatDiedWhileIdleIsReplacedWithoutFailingTheNextRequest() async throws {
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        let ok = try await engine.prepare([Self.echo.spec], trigger: .preAccessToken)
        _ = await engine.run(ok, user: .null, context: ["n": 0])
        let pids = engine.workerProcessIDs()
        #expect(!pids.isEmpty)  // one, or two if a slow entry (a loaded machine) made the pool start its spare
        for pid in pids { kill(pid, SIGKILL) }
        try await Task.sleep(for: .milliseconds(50))
        for n in 1...3 {
            let r = await engine.run(ok, user: .null, context: ["n": .int(Int64(n))])
            #expect(r.outcome == .proceed, "run \(n): \(r.outcome)")
        }
        #expect(engine.workerProcessIDs() != pids, "a new worker serves")
        // Killed right before a request is written: the death is noticed after the write.
        for pid in engine.workerProcessIDs() { kill(pid, SIGKILL) }
        let r = await engine.run(ok, user: .null, context: ["n": 9])
        #expect(r.outcome == .proceed, "\(r.outcome)")
    }

    @Test func aFrameLargerThanThePipeWaitsBehindAHungWorkerWithoutBlockingItsSupervisor() async throws {
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        // 200 KB of source: its load frame does not fit in a pipe.
        let big = try await engine.prepare([Fn(name: "big", source: "// " + String(repeating: "x", count: 200_000) + "\n" + Self.echo.source).spec],
                                           trigger: .preAccessToken)
        let hang = try await engine.prepare([Fn.awaitLoop(timeoutMS: 400).spec],
                                            trigger: .preAccessToken)
        // A fresh worker that has `hang` but not `big`, and hangs.
        for pid in engine.workerProcessIDs() { kill(pid, SIGKILL) }
        try await Task.sleep(for: .milliseconds(50))
        async let hung = engine.run(hang, user: .null, context: [:])
        try await Task.sleep(for: .milliseconds(100))
        // `big` must be loaded into the hung worker first: the frame waits in the service, the event loop
        // stays free, the supervisor kills the hung worker on time and the run goes to a fresh one.
        let start = Date()
        let r = await engine.run(big, user: .null, context: ["n": 7])
        #expect(r.claims == ["n": 7], "\(r.outcome)")
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(await hung.outcome != .proceed)
    }

    @Test func requestsQueuedBehindAKilledFunctionAreSentAgain() async throws {
        let engine = TestWorker.engine(workers: 1)
        defer { engine.shutdown() }
        let hang = try await engine.prepare([Fn.awaitLoop(timeoutMS: 300).spec],
                                            trigger: .preAccessToken)
        let ok = try await engine.prepare([Self.echo.spec], trigger: .preAccessToken)
        _ = await engine.run(ok, user: .null, context: ["n": 0])
        let pidBefore = engine.workerProcessIDs()
        async let hung = engine.run(hang, user: .null, context: [:])
        try await Task.sleep(for: .milliseconds(50))
        // One worker: these are written behind the hanging request and wait for its kill.
        let queued = await withTaskGroup(of: PipelineReport.Outcome.self) { group in
            for n in 1...10 { group.addTask { await engine.run(ok, user: .null, context: ["n": .int(Int64(n))]).outcome } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(queued == Array(repeating: .proceed, count: 10))
        guard case .failed(function: "hang", let reason) = await hung.outcome else {
            Issue.record("the hanging function should fail")
            return
        }
        #expect(reason.contains("timed out"))
        #expect(engine.workerProcessIDs() != pidBefore, "the worker was replaced")
    }
}

@Suite struct EngineLifecycleTests {
    /// After shutdown nothing runs and no worker starts again, not even to replace one.
    @Test func shutdownIsFinal() async throws {
        let engine = TestWorker.engine()
        let ok = try await engine.prepare([ContainmentTests.ok.spec], trigger: .preAccessToken)
        #expect(await engine.run(ok, user: .null, context: [:]).claims == ["ok": true])
        let pids = engine.workerProcessIDs()
        #expect(!pids.isEmpty)
        engine.shutdown()
        let after = await engine.run(ok, user: .null, context: [:])
        #expect(after.outcome != .proceed)
        try await Task.sleep(for: .milliseconds(100))
        #expect(engine.workerProcessIDs().isEmpty)
        for pid in pids { #expect(Self.isGone(pid), "worker \(pid) is gone") }
        await #expect(throws: PipelineLoadError.self) { _ = try await engine.prepare([ContainmentTests.ok.spec], trigger: .preAccessToken) }
    }

    static func isGone(_ pid: Int32) -> Bool {
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ").first
        return state == nil || state == "Z"
    }
}
