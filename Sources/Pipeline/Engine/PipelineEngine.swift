public import Claims
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
    var loadFrame: [UInt8]
    public var isEmpty: Bool { !functions.contains(where: \.enabled) }
}

/// Runs GenAuth-style pipelines on a fixed pool of JavaScriptCore worker processes, one VM each,
/// sized to the cores. A function that overruns its timeout in a way the VM cannot stop (an
/// endless microtask loop, a hang, a memory bomb) costs only its worker, which is killed and
/// replaced; the request gets its error and every other request goes on.
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
        let pipeline = CompiledPipeline(trigger: trigger, generation: gen, functions: specs, loadFrame: frame)
        let worker = await pool.acquire(bytes: frame.count)
        defer { pool.release(worker, bytes: frame.count) }
        if let problem = await ensureLoaded(pipeline, on: worker) {
            throw PipelineLoadError(problem.map { "pipeline \(trigger.rawValue): \($0)" })
        }
        return pipeline
    }

    /// Runs the synchronous functions in order, then starts the `async: true` ones fire-and-forget.
    public func run(_ pipeline: CompiledPipeline, user: JSONValue, context: JSONObject) async -> PipelineReport {
        let indices = pipeline.functions.indices.filter { pipeline.functions[$0].enabled && !pipeline.functions[$0].async }
        let report = await runFunctions(pipeline, indices: indices, user: user, context: context)
        let background = pipeline.functions.indices.filter { pipeline.functions[$0].enabled && pipeline.functions[$0].async }
        if !background.isEmpty, report.outcome == .proceed {
            let logger = self.logger
            Task.detached { [self] in
                let r = await runFunctions(pipeline, indices: background, user: user, context: context)
                for line in r.logs { logger.info("\(line.message)", metadata: ["function": "\(line.function)", "async": "true"]) }
                for f in r.functions where f.outcome != .ok {
                    logger.warning("async pipeline function did not succeed; ignored", metadata: ["function": "\(f.name)", "outcome": "\(f.outcome)"])
                }
            }
        }
        return report
    }

    func runFunctions(_ pipeline: CompiledPipeline, indices: [Int], user: JSONValue, context: JSONObject) async -> PipelineReport {
        var report = PipelineReport()
        guard !indices.isEmpty else { return report }
        var skipped = Set<Int>()
        var killedOutcomes: [Int: (FunctionOutcome, Duration)] = [:]
        var body: [UInt8] = [0x0A] + (user == .null ? Array("null".utf8) : JSON.serialize(user))
        body.append(0x0A); body.append(contentsOf: JSON.serialize(.object(context)))
        while true {
            let remaining = indices.filter { !skipped.contains($0) }
            switch await execute(pipeline, indices: remaining, body: body) {
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
                skipped.insert(index)
                killedOutcomes[index] = (.skipped(reason), duration)
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

    /// Sends the run to the least loaded worker. A request that never began (its worker died while
    /// it was queued, or before it was sent) is sent again: nothing runs twice.
    private func execute(_ pipeline: CompiledPipeline, indices: [Int], body: [UInt8]) async -> Execution {
        let header = RunHeader(generation: pipeline.generation, functions: indices.map { i in
            RunHeader.Function(index: i, timeoutMS: max(1, pipeline.functions[i].timeoutMS), skip: !pipeline.functions[i].terminateOnTimeout)
        })
        let frame = header.encoded() + body
        let total = indices.reduce(0) { $0 + pipeline.functions[$1].timeoutMS }
        var timeouts: [Int: Int] = [:]
        for i in indices { timeouts[i] = pipeline.functions[i].timeoutMS }
        let limits = WorkerProcess.Limits(timeoutsMS: timeouts, graceMS: configuration.killGraceMS,
                                          budgetNS: Int64(total + 10 * configuration.killGraceMS) * 1_000_000,
                                          memoryLimitBytes: configuration.memoryLimitBytes)
        let start = ContinuousClock.now
        // The load frame may precede the run in the same pipe: both count against the worker's room.
        let bytes = frame.count + pipeline.loadFrame.count
        for _ in 0..<4 {
            let worker = await pool.acquire(bytes: bytes)
            defer { pool.release(worker, bytes: bytes) }
            if let problems = await ensureLoaded(pipeline, on: worker) { return .notLoaded(problems) }
            switch await worker.request(frame, limits: limits) {
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

    /// Starts the worker if needed and sends it the pipeline's generation unless it has it; nil when
    /// ready. A run sent after the load frame is answered after it, so runs need not wait for it.
    private func ensureLoaded(_ pipeline: CompiledPipeline, on worker: WorkerProcess) async -> [String]? {
        do { try worker.ensureStarted() } catch { return error.problems }
        let limits = WorkerProcess.Limits(timeoutsMS: [:], graceMS: configuration.killGraceMS, budgetNS: 30_000_000_000,
                                          memoryLimitBytes: configuration.memoryLimitBytes)
        switch await worker.load(pipeline.loadFrame, generation: pipeline.generation, limits: limits) {
        case nil:
            return nil
        case .frame(let reply)?:
            guard let o = try? JSON.parse(reply).objectValue else {
                worker.forgetLoaded(pipeline.generation)
                return ["unreadable reply from the pipeline worker"]
            }
            if o["ok"] == true { return nil }
            worker.forgetLoaded(pipeline.generation)
            return o["errors"]?.arrayValue?.compactMap(\.stringValue) ?? ["load failed"]
        case .lost(_, let reason)?:
            return ["the pipeline worker was lost while compiling (\(reason)); is JavaScriptCore installed?"]
        case .unavailable?:
            return ["the pipeline worker could not be reached"]
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
