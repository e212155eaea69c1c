import Claims
public import JSONCore
public import Logging
public import NIOCore
import NIOPosix
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
    let loadFrame: [UInt8]
    /// The enabled synchronous functions (run per request) and the enabled `async: true` ones.
    let foreground: RunPlan
    let background: RunPlan
    public var isEmpty: Bool { !functions.contains(where: \.enabled) }
}

/// Some of a pipeline's functions, ready to send: the run header the worker reads and the limits the
/// supervisor enforces. Built once per pipeline, not per request.
struct RunPlan: Sendable {
    let indices: [Int]
    let header: [UInt8]
    let limits: WorkerProcess.Limits

    init(_ functions: [PipelineFunctionSpec], generation: Int, indices: [Int], graceMS: Int, memoryLimitBytes: Int64) {
        self.indices = indices
        header = RunHeader(generation: generation, functions: indices.map { i in
            RunHeader.Function(index: i, timeoutMS: max(1, functions[i].timeoutMS), skip: !functions[i].terminateOnTimeout)
        }).encoded()
        var timeouts: [Int: Int] = [:]
        for i in indices { timeouts[i] = functions[i].timeoutMS }
        let total = indices.reduce(0) { $0 + functions[$1].timeoutMS }
        limits = WorkerProcess.Limits(timeoutsMS: timeouts, graceMS: graceMS, budgetNS: Int64(total + 10 * graceMS) * 1_000_000,
                                      memoryLimitBytes: memoryLimitBytes)
    }
}

/// Runs GenAuth-style pipelines on a fixed pool of JavaScriptCore worker processes, one VM each,
/// sized to the cores. A function that overruns its timeout (a busy or endless microtask loop, a
/// hang) or a worker past its memory limit costs only that worker, which is killed and replaced;
/// the request gets its error and every other request goes on.
public final class PipelineEngine: Sendable {
    public struct Configuration: Sendable {
        public var launch: WorkerLaunch
        public var workers: Int
        /// Extra wall-clock time past a function's timeout before its worker is killed.
        public var killGraceMS: Int = 100
        /// A worker whose resident memory passes this is killed (the function fails: memory limit).
        public var memoryLimitBytes: Int64
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

    public init(configuration: Configuration, logger: Logger) {
        // A worker that dies mid-write must not take the service down with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        self.configuration = configuration
        self.logger = logger
        self.pool = WorkerPool(size: configuration.workers, launch: configuration.launch, group: configuration.eventLoopGroup)
    }

    /// Compiles the functions in a worker (a syntax error or a missing `pipe` fails the load).
    public func prepare(_ specs: [PipelineFunctionSpec], trigger: PipelineTrigger, env: JSONObject = [:]) async throws(PipelineLoadError)
        -> CompiledPipeline
    {
        let gen = generationCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let fns: [JSONValue] = specs.map { ["name": .string($0.name), "source": .string($0.source)] }
        let frame = JSON.serialize(.object(["op": "load", "gen": .int(Int64(gen)), "trigger": .string(trigger.rawValue),
                                            "env": .object(env), "fns": .array(fns)]))
        let plan = { (background: Bool) in
            RunPlan(specs, generation: gen, indices: specs.indices.filter { specs[$0].enabled && specs[$0].async == background },
                    graceMS: self.configuration.killGraceMS, memoryLimitBytes: self.configuration.memoryLimitBytes)
        }
        let pipeline = CompiledPipeline(trigger: trigger, generation: gen, functions: specs, loadFrame: frame,
                                        foreground: plan(false), background: plan(true))
        for _ in 0..<3 {
            let worker = await pool.acquire(bytes: frame.count)
            defer { pool.release(worker, bytes: frame.count) }
            switch await ensureLoaded(pipeline, on: worker) {
            case .ready: return pipeline
            case .retry: continue
            case .failed(let problems): throw PipelineLoadError(problems.map { "pipeline \(trigger.rawValue): \($0)" })
            }
        }
        throw PipelineLoadError(["pipeline \(trigger.rawValue): the pipeline worker could not be reached"])
    }

    /// Runs the synchronous functions in order, then starts the `async: true` ones fire-and-forget.
    public func run(_ pipeline: CompiledPipeline, user: JSONValue, context: JSONObject) async -> PipelineReport {
        let report = await runFunctions(pipeline, plan: pipeline.foreground, user: user, context: context)
        if !pipeline.background.indices.isEmpty, report.outcome == .proceed {
            let logger = self.logger
            Task.detached { [self] in
                let r = await runFunctions(pipeline, plan: pipeline.background, user: user, context: context)
                for line in r.logs { logger.info("\(line.message)", metadata: ["function": "\(line.function)", "async": "true"]) }
                for f in r.functions where f.outcome != .ok {
                    logger.warning("async pipeline function did not succeed; ignored", metadata: ["function": "\(f.name)", "outcome": "\(f.outcome)"])
                }
            }
        }
        return report
    }

    func runFunctions(_ pipeline: CompiledPipeline, plan: RunPlan, user: JSONValue, context: JSONObject) async -> PipelineReport {
        var report = PipelineReport()
        var plan = plan
        guard !plan.indices.isEmpty else { return report }
        var killedOutcomes: [Int: (FunctionOutcome, Duration)] = [:]
        var body: [UInt8] = [0x0A] + (user == .null ? Array("null".utf8) : JSON.serialize(user))
        body.append(0x0A); body.append(contentsOf: JSON.serialize(.object(context)))
        while true {
            switch await execute(pipeline, plan: plan, body: body) {
            case .reply(let frame, let duration):
                report = decode(frame, pipeline: pipeline, total: duration)
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
                               graceMS: configuration.killGraceMS, memoryLimitBytes: configuration.memoryLimitBytes)
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
        case reply([UInt8], Duration)
        /// The worker had to be killed (or died) while running function `index`.
        case lost(index: Int, reason: String, Duration)
        case notLoaded([String])
    }

    /// Sends the run to the worker the pool picks (its own loop's, else the least loaded). A request
    /// that never began (its worker died while it was queued, or before it was sent) is sent again:
    /// nothing runs twice.
    private func execute(_ pipeline: CompiledPipeline, plan: RunPlan, body: [UInt8]) async -> Execution {
        let frame = plan.header + body, indices = plan.indices
        let start = ContinuousClock.now
        for _ in 0..<4 {
            let worker = await pool.acquire(bytes: frame.count)
            defer { pool.release(worker, bytes: frame.count) }
            switch await ensureLoaded(pipeline, on: worker) {
            case .ready: break
            case .retry: continue
            case .failed(let problems): return .notLoaded(problems)
            }
            switch await worker.request(frame, limits: plan.limits) {
            case .frame(let reply):
                return .reply(reply, ContinuousClock.now - start)
            case .lost(let index, let reason):
                return .lost(index: index.flatMap { indices.contains($0) ? $0 : nil } ?? indices[0], reason: reason, ContinuousClock.now - start)
            case .unavailable:
                continue
            }
        }
        return .lost(index: indices[0], reason: "pipeline worker is gone", ContinuousClock.now - start)
    }

    enum LoadResult {
        case ready
        /// The worker went away before it read the load: try again (on a fresh one).
        case retry
        case failed([String])
    }

    /// Starts the worker if needed and sends it the pipeline's generation unless it has it. A run sent
    /// after the load frame is answered after it, so runs need not wait for it.
    private func ensureLoaded(_ pipeline: CompiledPipeline, on worker: WorkerProcess) async -> LoadResult {
        do { try worker.ensureStarted() } catch { return .failed(error.problems) }
        let limits = WorkerProcess.Limits(timeoutsMS: [:], graceMS: configuration.killGraceMS, budgetNS: 30_000_000_000,
                                          memoryLimitBytes: configuration.memoryLimitBytes)
        switch await worker.load(pipeline.loadFrame, generation: pipeline.generation, limits: limits) {
        case nil:
            return .ready
        case .frame(let reply)?:
            guard let o = try? JSON.parse(reply).objectValue else {
                worker.forgetLoaded(pipeline.generation)
                return .failed(["unreadable reply from the pipeline worker"])
            }
            if o["ok"] == true { return .ready }
            worker.forgetLoaded(pipeline.generation)
            return .failed(o["errors"]?.arrayValue?.compactMap(\.stringValue) ?? ["load failed"])
        case .lost(_, let reason)?:
            return .failed(["the pipeline worker was lost while compiling (\(reason)); is JavaScriptCore installed?"])
        case .unavailable?:
            return .retry
        }
    }

    private func decode(_ frame: [UInt8], pipeline: CompiledPipeline, total: Duration) -> PipelineReport {
        var report = PipelineReport()
        guard let o = try? JSON.parse(frame).objectValue, let results = o["results"]?.arrayValue else {
            report.outcome = .failed(function: "(worker)", reason: "unreadable reply from the pipeline worker")
            return report
        }
        if let error = o["error"]?.stringValue {
            report.outcome = .failed(function: "(worker)", reason: error)
            return report
        }
        let share = results.isEmpty ? total : total / results.count
        for r in results {
            guard let ro = r.objectValue, let i = ro["i"]?.intValue.map(Int.init), pipeline.functions.indices.contains(i) else { continue }
            let spec = pipeline.functions[i]
            let message = ro["m"]?.stringValue ?? ""
            let outcome: FunctionOutcome
            switch ro["o"]?.stringValue ?? "failed" {
            case "ok": outcome = .ok
            case "denied": outcome = .denied(message)
            case "timeout": outcome = spec.terminateOnTimeout ? .failed("timed out after \(spec.timeoutMS) ms") : .skipped("timed out")
            case "pending": outcome = spec.terminateOnTimeout ? .failed("did not call back") : .skipped("did not call back")
            default: outcome = spec.terminateOnTimeout ? .failed(message) : .skipped(message)
            }
            report.functions.append((spec.name, outcome, share))
            switch outcome {
            case .denied(let m): report.outcome = .denied(function: spec.name, message: m)
            case .failed(let m): report.outcome = .failed(function: spec.name, reason: m)
            case .ok, .skipped: break
            }
        }
        if let out = o["out"]?.objectValue {
            for op in out["ops"]?.arrayValue ?? [] {
                guard let a = op.arrayValue, let kind = a.first?.stringValue, a.count >= 2, let key = a[1].stringValue else { continue }
                if kind == "add", a.count == 3 { report.extensions.operations.append(.add(key, a[2])) }
                if kind == "remove" { report.extensions.operations.append(.remove(key)) }
            }
            for line in out["logs"]?.arrayValue ?? [] {
                if let l = line.arrayValue, l.count == 2, let f = l[0].stringValue, let m = l[1].stringValue {
                    report.logs.append(PipelineLogLine(function: f, message: m))
                }
            }
            report.refusedClaims = out["refused"]?.arrayValue?.compactMap(\.stringValue) ?? []
            if let dropped = out["droppedLogs"]?.intValue, dropped > 0 {
                report.logs.append(PipelineLogLine(function: "(pipeline)", message: "\(dropped) more log lines were dropped"))
            }
        }
        // Exact bound on what the pipeline adds (the worker's count is an estimate). Serialised here,
        // a claim takes at most six bytes per byte of the reply (\uXXXX escapes): a small reply cannot
        // hold too much.
        var added = JSONObject()
        report.extensions.apply(to: &added)
        if frame.count * 6 > 64 * 1024, JSON.serialize(.object(added)).count > 64 * 1024 {
            report.outcome = .failed(function: "(pipeline)", reason: "pipeline claims exceed 64 KiB")
            report.extensions = ClaimExtensions()
        }
        return report
    }

    /// Process ids of the running workers (for health checks and tests).
    public func workerProcessIDs() -> [Int32] { pool.processIDs() }

    /// Stops every worker.
    public func shutdown() { pool.shutdown() }
}
