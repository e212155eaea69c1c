import Claims
public import JSONCore
public import Logging
public import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Why pipelines could not be loaded (syntax errors, missing `pipe`, no worker).
public struct PipelineLoadError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    public init(_ problems: [String]) { self.problems = problems }
    public var description: String { problems.joined(separator: "\n") }
}

/// A trigger's functions, compiled in the workers under one generation number.
public struct CompiledPipeline: Sendable {
    public let trigger: PipelineTrigger
    public let generation: Int
    public let functions: [PipelineFunctionSpec]
    public let outbound: OutboundPolicy
    let loadTail: [UInt8]
    /// The enabled synchronous functions (run per request) and the enabled `async: true` ones, alone,
    /// and both in one frame: the worker answers after the synchronous ones and goes on with the others.
    let foreground: RunPlan
    let background: RunPlan
    let combined: RunPlan
    public var isEmpty: Bool { !functions.contains(where: \.enabled) }
}

/// Some of a pipeline's functions, ready to send: the run header the worker reads and the limits the
/// supervisor enforces. Built once per pipeline, not per request.
struct RunPlan: Sendable {
    let indices: [Int]
    let header: [UInt8]
    let limits: WorkerProcess.Limits
    /// Its `async: true` functions run detached, after the run was answered.
    var detaches: Bool { !limits.detached.isEmpty }

    /// With `detach`, the `async: true` functions among `indices` (they come last) run detached.
    init(_ functions: [PipelineFunctionSpec], generation: Int, indices: [Int], detach: Bool, graceMS: Int, memoryLimitBytes: Int64) {
        self.indices = indices
        let detached = detach ? Set(indices.filter { functions[$0].async }) : []
        header = Wire.RunHeader(generation: generation, functions: indices.map { i in
            Wire.RunHeader.Function(index: i, timeoutMS: max(1, functions[i].timeoutMS), skip: !functions[i].terminateOnTimeout,
                                    detached: detached.contains(i))
        }).encodedWords()
        var timeouts: [Int: Int] = [:], names: [Int: String] = [:]
        for i in indices { (timeouts[i], names[i]) = (functions[i].timeoutMS, functions[i].name) }
        let total = indices.reduce(0) { $0 + functions[$1].timeoutMS }
        limits = WorkerProcess.Limits(timeoutsMS: timeouts, names: names, detached: detached, graceMS: graceMS,
                                      budgetNS: Int64(total + 10 * graceMS) * 1_000_000, memoryLimitBytes: memoryLimitBytes)
    }
}

/// Runs GenAuth-style pipelines on JavaScriptCore worker processes, one VM each, one per core plus
/// spares. A function that overruns its timeout (a busy or endless microtask loop, a hang) or a worker
/// past its memory limit costs only that request: the worker is killed and replaced, and the requests
/// that had not begun there (or were parked on the network) are sent elsewhere. A worker stuck in one
/// function gets no new work meanwhile. A `Service`: its shutdown is final, no worker starts after it.
public final class PipelineEngine: Service, Sendable {
    public struct Configuration: Sendable {
        public var launch: WorkerLaunch
        public var workers: Int
        /// Extra wall-clock time past a function's timeout before its worker is killed.
        public var killGraceMS: Int = 100
        /// A worker whose resident memory passes this is killed (the function fails: memory limit).
        public var memoryLimitBytes: Int64
        /// At most this many `async: true` runs at once; past it a run is dropped (logged).
        public var maxBackgroundRuns = 1024
        /// Outbound HTTP: transfers at once, and waiting beyond those.
        public var maxOutboundActive = 256
        public var maxOutboundQueued = 1024
        /// A spare worker idle this long, while every core worker is healthy, is stopped.
        public var spareIdle: Duration = .seconds(30)
        /// The loops that read the workers' replies (worker i on loop i).
        public var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
        public init(launch: WorkerLaunch, workers: Int, memoryLimitMB: Int = 512) {
            self.launch = launch
            self.workers = max(1, workers)
            self.memoryLimitBytes = Int64(max(64, memoryLimitMB)) * 1024 * 1024
        }
    }

    let configuration: Configuration
    let logger: Logger
    private let pool: WorkerPool
    private let generationCounter = Atomic<Int>(0)
    private let backgroundRuns = Atomic<Int>(0)
    /// Async functions that did not succeed (or runs dropped): the first logged at once, then one warning a second at most, with a count.
    private let backgroundTrouble = ThrottledWarning("async pipeline functions did not succeed; ignored")
    /// The newest pipeline of each trigger: what a fresh worker loads before it takes work.
    private let current = Mutex<[PipelineTrigger: CompiledPipeline]>([:])

    /// The process must ignore SIGPIPE (the executable's `main` does): a worker that dies mid-write would
    /// otherwise take it down.
    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let outbound = LazyOutbound(maxActive: configuration.maxOutboundActive, maxQueued: configuration.maxOutboundQueued)
        self.pool = WorkerPool(size: configuration.workers, launch: configuration.launch, group: configuration.eventLoopGroup,
                               spareIdle: configuration.spareIdle, outbound: outbound, logger: logger)
        pool.setWarmer { [weak self] worker in await self?.warm(worker) }
    }

    /// Waits for graceful shutdown, then stops every worker for good.
    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }

    /// Compiles the functions in a worker (a syntax error or a missing `pipe` fails the load).
    public func prepare(_ specs: [PipelineFunctionSpec], trigger: PipelineTrigger, env: JSONObject = [:],
                        outbound: OutboundPolicy = .none) async throws(PipelineLoadError) -> CompiledPipeline {
        let unknownModules = specs.flatMap { spec in GenAuthModules.problems(in: spec.source).map { "\(spec.name): \($0)" } }
        guard unknownModules.isEmpty else { throw PipelineLoadError(unknownModules) }
        let gen = generationCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let settings: JSONObject = ["trigger": .string(trigger.rawValue), "env": .object(env),
                                    "registered": .array(RegisteredClaims.names.sorted().map { .string($0) }),
                                    "maxClaimBytes": .int(Int64(ClaimExtensions.maxBytes))]
        let body = Wire.LoadRequest(generation: Int64(gen), settings: settings,
                                    functions: specs.map { .init(name: $0.name, source: $0.source) }).json
        let enabled = specs.indices.filter { specs[$0].enabled }
        let plan = { (indices: [Int], detach: Bool) in
            RunPlan(specs, generation: gen, indices: indices, detach: detach, graceMS: self.configuration.killGraceMS,
                    memoryLimitBytes: self.configuration.memoryLimitBytes)
        }
        let sync = enabled.filter { !specs[$0].async }, async = enabled.filter { specs[$0].async }
        let pipeline = CompiledPipeline(trigger: trigger, generation: gen, functions: specs, outbound: outbound, loadTail: [0x0A] + body,
                                        foreground: plan(sync, false), background: plan(async, false), combined: plan(sync + async, true))
        for _ in 0..<3 {
            guard let reservation = await pool.acquire(bytes: body.count) else { break }
            defer { reservation.release() }
            switch await ensureLoaded(pipeline, on: pool.workers[reservation.index]) {
            case .ready:
                current.withLock { $0[trigger] = pipeline }
                return pipeline
            case .retry: continue
            case .failed(let problems): throw PipelineLoadError(problems.map { "pipeline \(trigger.rawValue): \($0)" })
            }
        }
        throw PipelineLoadError(["pipeline \(trigger.rawValue): the pipeline worker could not be reached"])
    }

    /// Runs the synchronous functions in order, then (unless `background` is false) the `async: true`
    /// ones fire-and-forget: in the same frame, so that the worker answers once the synchronous ones are
    /// done and goes on with the others (one message, one parse of the context, no second run).
    /// `logger`: the request's, so that what async functions log later carries its request id.
    public func run(_ pipeline: CompiledPipeline, user: JSONValue, context: JSONObject, background: Bool = true,
                    logger requestLogger: Logger? = nil) async -> PipelineReport {
        let input = RunInput(user: user, context: context)
        let backgroundLogger = requestLogger ?? logger
        guard background, pipeline.combined.detaches else { return await runFunctions(pipeline, plan: pipeline.foreground, input: input) }
        guard backgroundRuns.wrappingAdd(1, ordering: .relaxed).newValue <= configuration.maxBackgroundRuns else {
            backgroundRuns.wrappingSubtract(1, ordering: .relaxed)
            backgroundTrouble.note(logger: logger) { ["last": "(dropped: too many async runs in progress)"] }
            return await runFunctions(pipeline, plan: pipeline.foreground, input: input)
        }
        let sent = ContinuousClock.now
        let detached = Detached { [self] reply in
            // The worker went away before the detached functions were done, without one of them being
            // the cause: they run again on another worker.
            if case .unavailable = reply {
                // (At shutdown there is no other worker: they are dropped.)
                guard !pool.isClosed else {
                    backgroundRuns.wrappingSubtract(1, ordering: .relaxed)
                    return
                }
                Task { [self] in
                    defer { backgroundRuns.wrappingSubtract(1, ordering: .relaxed) }
                    noteBackground(await runFunctions(pipeline, plan: pipeline.background, input: input), pipeline, logger: backgroundLogger)
                }
                return
            }
            defer { backgroundRuns.wrappingSubtract(1, ordering: .relaxed) }
            noteBackground(backgroundReport(reply, pipeline, total: ContinuousClock.now - sent), pipeline, logger: backgroundLogger)
        }
        let report = await runFunctions(pipeline, plan: pipeline.combined, input: input, detached: detached)
        // Answered without an `A` (the run stopped before its detached functions): nothing is left to come.
        if !detached.started.load(ordering: .relaxed) { backgroundRuns.wrappingSubtract(1, ordering: .relaxed) }
        return report
    }

    /// The outcome of a run's detached functions, once the run was answered.
    final class Detached: Sendable {
        let handle: @Sendable (WorkerProcess.Reply) -> Void
        /// Set when the run was answered with its detached functions still to run (`handle` will be called).
        let started = Atomic<Bool>(false)
        init(_ handle: @escaping @Sendable (WorkerProcess.Reply) -> Void) { self.handle = handle }
    }

    private func backgroundReport(_ reply: WorkerProcess.Reply, _ pipeline: CompiledPipeline, total: Duration) -> PipelineReport {
        switch reply {
        case .frame(let frame, let calls), .answered(let frame, let calls):
            var report = PipelineReply.decode(frame, pipeline: pipeline, total: total)
            report.httpCalls = calls
            return report
        case .lost(let index, let reason):
            var report = PipelineReport()
            let name = index.map { pipeline.functions[$0].name } ?? "(async)"
            report.functions.append((name, .failed(reason), total))
            return report
        case .unavailable:
            return PipelineReport()
        }
    }

    /// Logs what async functions printed and called, and counts the ones that did not succeed.
    private func noteBackground(_ r: PipelineReport, _ pipeline: CompiledPipeline, logger: Logger) {
        for line in r.logs { logger.info("pipeline log", metadata: ["function": "\(line.function)", "async": "true", "log": "\(line.message)"]) }
        for call in r.httpCalls {
            logger.debug("pipeline outbound call", metadata: call.logMetadata(functionName: pipeline.functions[call.function].name))
        }
        // Failures are counted and logged at most once a second for the service, not per request.
        for f in r.functions where f.outcome != .ok {
            backgroundTrouble.note(logger: self.logger) { ["last": "\(f.name): \(f.outcome)"] }
        }
    }

    /// `async: true` runs started and not yet reported back by their worker (at most `maxBackgroundRuns`).
    public var backgroundRunsInProgress: Int { backgroundRuns.load(ordering: .relaxed) }

    /// Runs only the `async: true` functions and waits for them (`pipeline test` shows what they do).
    public func runBackground(_ pipeline: CompiledPipeline, user: JSONValue, context: JSONObject) async -> PipelineReport {
        await runFunctions(pipeline, plan: pipeline.background, input: RunInput(user: user, context: context))
    }

    /// A run's user and context as the worker reads them, serialised once for the synchronous and the async functions.
    struct RunInput: Sendable {
        let user: [UInt8]
        let context: [UInt8]
        init(user: JSONValue, context: JSONObject) {
            self.user = user == .null ? Array("null".utf8) : JSON.serialize(user)
            self.context = JSON.serialize(.object(context))
        }
    }

    func runFunctions(_ pipeline: CompiledPipeline, plan: RunPlan, input: RunInput, detached: Detached? = nil) async -> PipelineReport {
        var report = PipelineReport()
        var plan = plan
        guard !plan.indices.isEmpty else { return report }
        var killedOutcomes: [Int: (FunctionOutcome, Duration)] = [:]
        let (userJSON, contextJSON) = (input.user, input.context)
        while true {
            switch await execute(pipeline, plan: plan, tail: Wire.runTail(header: plan.header, user: userJSON, context: contextJSON),
                                 detached: detached) {
            case .reply(let frame, let calls, let duration):
                report = PipelineReply.decode(frame, pipeline: pipeline, total: duration)
                report.httpCalls = calls
                // Restore the order: functions killed earlier in this request come back into the list.
                for (i, (outcome, d)) in killedOutcomes.sorted(by: { $0.key < $1.key }) {
                    let pos = report.functions.firstIndex { name in pipeline.functions.firstIndex { $0.name == name.name } ?? 0 > i }
                    report.functions.insert((pipeline.functions[i].name, outcome, d), at: pos ?? report.functions.endIndex)
                }
                return report
            case .lost(let index, let reason, let duration):
                let spec = pipeline.functions[index]
                logger.warning("pipeline worker replaced", metadata: ["function": "\(spec.name)", "reason": "\(reason)"])
                if spec.terminateOnTimeout {
                    report.functions.append((spec.name, .failed(reason), duration))
                    report.outcome = .failed(function: spec.name, reason: reason)
                    return report
                }
                // GenAuth semantics for terminate_on_timeout: false — skip the function and go on.
                killedOutcomes[index] = (.skipped(reason), duration)
                plan = RunPlan(pipeline.functions, generation: pipeline.generation, indices: plan.indices.filter { $0 != index },
                               detach: plan.detaches, graceMS: configuration.killGraceMS, memoryLimitBytes: configuration.memoryLimitBytes)
                if plan.indices.isEmpty {
                    // Every function left was skipped: issuance goes on without their changes.
                    report.functions = killedOutcomes.sorted { $0.key < $1.key }.map { (pipeline.functions[$0.key].name, $0.value.0, $0.value.1) }
                    return report
                }
            case .notLoaded(let problems):
                report.outcome = .failed(function: "(load)", reason: problems.joined(separator: "; "))
                return report
            }
        }
    }

    enum Execution {
        case reply([UInt8], [PipelineHTTPCall], Duration)
        /// The worker had to be killed (or died) while running function `index`.
        case lost(index: Int, reason: String, Duration)
        case notLoaded([String])
    }

    /// Sends the run to the worker the pool picks. A request that never began (its worker died or got
    /// stuck while it was queued, or before it was sent) or was parked on a worker that was lost is sent
    /// again to another.
    private func execute(_ pipeline: CompiledPipeline, plan: RunPlan, tail: [UInt8], detached: Detached?) async -> Execution {
        let indices = plan.indices
        let start = ContinuousClock.now
        for _ in 0..<8 {
            guard let reservation = await pool.acquire(bytes: tail.count) else { break }
            defer { reservation.release() }
            let worker = pool.workers[reservation.index]
            switch await ensureLoaded(pipeline, on: worker) {
            case .ready: break
            case .retry: continue
            case .failed(let problems): return .notLoaded(problems)
            }
            switch await worker.run(tail, limits: plan.limits, outbound: pipeline.outbound, reservation: reservation,
                                    detached: detached.map { d in d.handle }) {
            case .frame(let reply, let calls):
                return .reply(reply, calls, ContinuousClock.now - start)
            case .answered(let reply, let calls):
                detached?.started.store(true, ordering: .relaxed)
                return .reply(reply, calls, ContinuousClock.now - start)
            case .lost(let index, let reason):
                return .lost(index: index.flatMap { indices.contains($0) ? $0 : nil } ?? indices[0], reason: reason, ContinuousClock.now - start)
            case .unavailable:
                continue
            }
        }
        return .lost(index: indices[0], reason: "no pipeline worker could run it", ContinuousClock.now - start)
    }

    enum LoadResult {
        case ready
        /// The worker went away (or was stuck) before it read the load: try again (elsewhere).
        case retry
        case failed([String])
    }

    /// Starts the worker if needed and sends it the pipeline's generation unless it has it. A run sent
    /// after the load frame is answered after it, so runs need not wait for it.
    private func ensureLoaded(_ pipeline: CompiledPipeline, on worker: WorkerProcess) async -> LoadResult {
        do { try worker.ensureStarted() } catch { return .failed(error.problems) }
        let limits = WorkerProcess.Limits(timeoutsMS: [:], graceMS: configuration.killGraceMS, budgetNS: 30_000_000_000,
                                          memoryLimitBytes: configuration.memoryLimitBytes)
        switch await worker.load(pipeline.loadTail, generation: pipeline.generation, limits: limits) {
        case nil:
            return .ready
        case .frame(let reply, _)?, .answered(let reply, _)?:
            guard let loaded = Wire.LoadReply(json: reply) else {
                worker.forgetLoaded(pipeline.generation)
                return .failed(["unreadable reply from the pipeline worker"])
            }
            if loaded.ok { return .ready }
            worker.forgetLoaded(pipeline.generation)
            return .failed(loaded.errors)
        case .lost(_, let reason)?:
            return .failed(["the pipeline worker was lost while compiling (\(reason)); is JavaScriptCore installed?"])
        case .unavailable?:
            worker.forgetLoaded(pipeline.generation)
            return .retry
        }
    }

    /// A fresh worker (a core one, a replacement, or a spare): started and given the current pipelines
    /// before it takes work.
    private func warm(_ worker: WorkerProcess) async {
        do { try worker.ensureStarted() } catch {
            if !pool.isClosed { logger.error("cannot start a pipeline worker", metadata: ["problems": "\(error.problems.joined(separator: "; "))"]) }
            return
        }
        for pipeline in current.withLock({ Array($0.values) }) {
            if case .failed(let problems) = await ensureLoaded(pipeline, on: worker), !pool.isClosed {
                logger.error("a fresh pipeline worker could not load a pipeline", metadata: ["problems": "\(problems.joined(separator: "; "))"])
            }
        }
    }

    /// Process ids of the running workers (for health checks and tests).
    public func workerProcessIDs() -> [Int32] { pool.processIDs() }

    /// The worker processes running now: `core` (at most `workers`, started when a pipeline is first
    /// loaded) and `spare` (brought up while a core worker is stuck in a function, stopped once idle).
    public func runningWorkers() -> (core: Int, spare: Int) { pool.running() }

    /// Stops every worker, for good: nothing runs or starts after it.
    public func shutdown() { pool.shutdown() }
}
