import Foundation
internal import CPipelineSupport
import JSONCore
#if canImport(Glibc)
import Glibc
#endif

/// The pipeline worker process (`tokenservice pipeline-worker`): owns one JavaScriptCore VM, reads
/// frames on stdin, answers on stdout, reports progress on fd 3 (see `Wire` and `ProgressBoard`).
/// The service kills and replaces it when a function overruns its timeout or the worker breaks its
/// memory limit, so nothing a pipeline does can hang or exhaust the service itself.
public enum PipelineWorker {
    /// Runs the worker loop until stdin closes; returns the exit status.
    public static func main() -> Int32 {
        // Memory is bounded from outside: RLIMIT_DATA/AS cannot be used (JavaScriptCore reserves large
        // regions up front) and a gcMaxHeapSize makes its heap grow far larger before collecting
        // (measured: 204 MiB vs 72 MiB resident after 20k runs). The supervisor checks resident memory
        // while requests run and kills the worker past the limit.
        // A worker stuck in a function never sees its input close: it must still die with the service.
        guard ts_exit_with_parent() == 0 else { return 5 }
        guard let board = ProgressBoard(fd: 3) ?? ProgressBoard() else { return 3 }
        // No FTL tier (an operator's JSC_useFTLJIT wins): pipeline functions are short, and FTL keeps
        // recompiling them on a compiler thread (BENCHMARKS.md, "The async notifier").
        setenv("JSC_useFTLJIT", "false", 0)
        let worker: WorkerState
        do { worker = try WorkerState(board: board) } catch {
            FileHandleErr.write("pipeline worker: cannot start JavaScriptCore: \(error)\n")
            return 4
        }
        return serve(worker)
    }

    /// Handles frames as they come. What frames that arrived together produce goes out together (one
    /// write, one wake-up of the service's reader), but never later than `flushAfterNS` after the
    /// first of it, and always before the worker waits for more input. Detached (`async: true`)
    /// functions of answered runs run when no frame is waiting, or once they have waited
    /// `WorkerState.detachedWaitNS`; their runs' answers are written before any of them starts.
    /// Their outcomes, which nobody waits for, ride along with the next write, or leave on their own
    /// once the worker has had no input for `WorkerState.lazyFlushMS`.
    static func serve(_ worker: WorkerState) -> Int32 {
        let flushAfterNS: Int64 = 200_000
        _ = fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK)
        var input = FrameReader()
        var oldestNS: Int64 = 0
        let maxBatch = 64 * 1024
        /// Writes the output; outcomes held back go with it (or alone with `lazy`, or when they pile up).
        func flush(lazy: Bool = false) -> Bool {
            if !worker.lazyOutput.isEmpty, lazy || !worker.output.isEmpty || worker.lazyOutput.count >= maxBatch {
                worker.output.append(contentsOf: worker.lazyOutput)
                worker.lazyOutput.removeAll(keepingCapacity: true)
            }
            defer { worker.output.removeAll(keepingCapacity: true) }
            return worker.output.isEmpty || FrameIO.writeAll(1, worker.output)
        }
        while true {
            if let frame = input.next() {
                if worker.output.isEmpty { oldestNS = ProgressBoard.nowNS() }
                worker.handle(frame)
                let now = ProgressBoard.nowNS()
                if worker.output.count >= maxBatch || now - oldestNS >= flushAfterNS || worker.detachedAreDue(now: now) {
                    guard flush() else { return 0 }
                    worker.runDetached()
                }
                continue
            }
            let n = input.fill(0)
            if n > 0 { continue }
            guard flush(), n < 0 else { return 0 }
            if worker.runDetached() { continue }
            if worker.lazyOutput.isEmpty {
                ts_wait_readable(0, -1)
            } else if ts_wait_readable(0, WorkerState.lazyFlushMS) == 0 {
                guard flush(lazy: true) else { return 0 }
            }
        }
    }
}

enum FileHandleErr {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// The worker's JavaScript state: the runner API, compiled functions per pipeline generation, and
/// the runs in progress (several when some await the network).
final class WorkerState {
    let js: JSRuntime
    let api: (start: JSHandle, advance: JSHandle, fail: JSHandle, answer: JSHandle, end: JSHandle, resolveCall: JSHandle,
              makeSettings: JSHandle)
    let board: ProgressBoard
    /// Frames to send to the service (the serve loop writes them).
    var output: [UInt8] = []
    /// The outcomes of detached functions: no caller waits for them, so they do not cost the service a
    /// wake-up of their own; they leave with the next output, or `lazyFlushMS` after input stopped.
    var lazyOutput: [UInt8] = []
    static let lazyFlushMS: Int32 = 5

    struct Generation {
        var settings: JSHandle
        var names: [JSHandle]
        var factories: [JSHandle]
    }
    var generations: [Int: Generation] = [:]

    /// A run in progress. `position` is the header's function the runner stepped last.
    final class Run {
        var header: Wire.RunHeader
        let generation: Generation
        var handle: JSHandle
        var position = 0
        /// When each stepped function (by index) started: its timeout counts from there.
        var starts: [Int: Int64] = [:]
        /// Outbound calls of this run not answered yet: while any is, a pending function parks.
        var outstanding = 0
        /// The functions before the detached ones are done and their reply (`A`) was sent.
        var answered = false

        init(header: Wire.RunHeader, generation: Generation, handle: JSHandle) {
            self.header = header
            self.generation = generation
            self.handle = handle
        }
        var function: Wire.RunHeader.Function { header.functions[position] }
        var functionStartNS: Int64 { starts[function.index] ?? 0 }
    }
    var runs: [Int64: Run] = [:]
    /// Which run each outbound call belongs to (calls of runs that ended are answered and dropped).
    var calls: [Int64: Int64] = [:]
    var lastCall: Int64 = 0
    /// The run whose code the VM is running now (outbound calls made now are its calls).
    var running: Int64?
    /// Answered runs whose detached functions wait to start, and since when the oldest waits.
    var detached: [Int64] = []
    var detachedSinceNS: Int64 = 0
    /// Detached functions wait for the frames behind them at most this long (or this many runs).
    static let detachedWaitNS: Int64 = 1_000_000
    static let detachedBatch = 32

    init(board: ProgressBoard) throws(JSException) {
        self.board = board
        js = try JSRuntime()
        let factory = try js.evaluate(Bootstrap.source, sourceURL: "tokenservice:bootstrap")
        var fetch: (([String]) -> String?)?
        let host = js.makeHostFunction { fetch?($0) }
        let runner = js.retain(try js.call(factory, [host, try Self.loadLodash(js)]))
        api = (try js.property(runner, "start"), try js.property(runner, "advance"), try js.property(runner, "fail"),
               try js.property(runner, "answer"), try js.property(runner, "end"), try js.property(runner, "resolveCall"),
               try js.property(runner, "makeSettings"))
        fetch = { [unowned self] in self.outboundCall($0.first ?? "", function: $0.count > 1 ? Int($0[1]) : nil) }
    }

    /// lodash from Debian's `libjs-lodash`, evaluated once with a CommonJS `module` of its own (it never
    /// touches the global object) and handed to the bootstrap, which freezes it; undefined when the file
    /// is not there (`require('lodash')` then says so).
    static func loadLodash(_ js: JSRuntime) throws(JSException) -> JSHandle {
        guard let data = FileManager.default.contents(atPath: GenAuthModules.lodashPath) else { return js.makeUndefined() }
        let source = String(decoding: data, as: UTF8.self)
        let wrapped = "(function () { var global = globalThis, module = { exports: {} }, exports = module.exports, define;\n"
            + source + "\n;return module.exports; })()"
        return try js.evaluate(wrapped, sourceURL: "lodash")
    }

    func handle(_ payload: [UInt8]) {
        guard let message = Wire.Message(payload[...]) else { return }
        switch message.tag {
        case .load:
            guard board.read(frame: message.id) else { return Wire.append(.cancelled, id: message.id, tail: [UInt8](), to: &output) }
            board.entering(frame: message.id, function: -1, since: ProgressBoard.nowNS())
            let reply = load(message.body)
            board.left()
            Wire.append(.done, id: message.id, body: reply, to: &output)
        case .run:
            guard board.read(frame: message.id) else { return Wire.append(.cancelled, id: message.id, tail: [UInt8](), to: &output) }
            guard let header = Wire.RunHeader(words: message.words), let (user, context) = Wire.runBody(message.body) else {
                return Wire.append(.done, id: message.id, body: Array(#"{"error":"bad frame"}"#.utf8), to: &output)
            }
            start(message.id, header, user: user, context: context)
        case .httpResult:
            guard let callWord = message.words.first, let call = Wire.integer(callWord), let id = calls.removeValue(forKey: call),
                  let run = runs[id] else { return }
            run.outstanding -= 1
            enter(id, run)
            _ = try? js.call(api.resolveCall, [run.handle, js.makeNumber(Double(call)), js.makeString(utf8: message.body)])
            board.left()
            proceed(id)
        case .done, .answered, .httpCall, .cancelled:
            return
        }
    }

    /// Compiles each function once. The file becomes the body of a factory function that is called
    /// per request, so top-level state in a file is fresh for every call.
    private func load(_ body: ArraySlice<UInt8>) -> [UInt8] {
        guard let request = Wire.LoadRequest(json: body) else { return Wire.LoadReply(errors: ["bad load frame"]).json }
        var errors: [String] = []
        var names: [JSHandle] = [], factories: [JSHandle] = []
        // Top-level code runs here once per file: the VM's own limit stops a runaway load cleanly. Runs
        // have no VM limit (it costs two CPU-clock system calls per VM entry, ~20 % of a run): the
        // supervisor kills a worker whose function passes its timeout.
        js.setTimeLimit(seconds: 1)
        defer { js.clearTimeLimit() }
        for fn in request.functions {
            let (name, source) = (fn.name, fn.source)
            let wrapped = "(function () {" + source + "\n;return typeof pipe === 'function' ? pipe : undefined;\n})"
            do {
                try js.checkSyntax(wrapped, sourceURL: name)
                let factory = js.retain(try js.evaluate(wrapped, sourceURL: name))
                // Run the top level once now so that a file without `pipe` fails the load, not a request.
                let probe = try js.call(factory, [])
                if !js.isFunction(probe) { errors.append("\(name): the file does not define function pipe") }
                names.append(js.retain(js.makeString(name)))
                factories.append(factory)
            } catch {
                errors.append("\(name): \(error.description)")
                // A termination by the time limit fails the next API call once: absorb it here.
                _ = try? js.evaluate("0", sourceURL: "tokenservice:reset")
            }
        }
        guard errors.isEmpty, let made = try? js.call(api.makeSettings, [js.makeString(JSON.serializeString(.object(request.settings)))]) else {
            (factories + names).forEach(js.release)
            return Wire.LoadReply(errors: errors.isEmpty ? ["settings are not valid"] : errors).json
        }
        generations[Int(request.generation)] = Generation(settings: js.retain(made), names: names, factories: factories)
        // Keep a few generations (a reload may race requests that still use the previous one).
        for old in generations.keys.sorted().dropLast(4) {
            if let g = generations.removeValue(forKey: old) { (g.factories + g.names + [g.settings]).forEach(js.release) }
        }
        return Wire.LoadReply(errors: []).json
    }

    private func start(_ id: Int64, _ header: Wire.RunHeader, user: ArraySlice<UInt8>, context: ArraySlice<UInt8>) {
        guard let gen = generations[header.generation] else {
            return Wire.append(.done, id: id, body: Array(#"{"error":"unknown generation"}"#.utf8), to: &output)
        }
        guard let first = header.functions.first, gen.factories.indices.contains(first.index) else {
            return Wire.append(.done, id: id, body: Self.nothingRan, to: &output)
        }
        // Protected while the entry runs: a collection may happen before the VM holds them itself.
        let userJS = js.retain(js.makeString(utf8: user)), contextJS = js.retain(js.makeString(utf8: context))
        defer { js.release(userJS); js.release(contextJS) }
        let run = Run(header: header, generation: gen, handle: userJS)
        if first.detached {
            run.answered = true
            // Only async functions: the answer is empty, and it leaves now, before the first of them starts.
            Wire.append(.answered, id: id, body: Self.nothingRan, to: &output)
            _ = FrameIO.writeAll(1, output)
            output.removeAll(keepingCapacity: true)
        }
        run.starts[first.index] = ProgressBoard.nowNS()
        runs[id] = run
        enter(id, run)
        let started = try? js.call(api.start, [gen.settings, userJS, contextJS, js.makeNumber(Double(first.index)),
                                               gen.factories[first.index], gen.names[first.index], js.makeBool(first.skip)])
        board.left()
        guard let started else {
            runs[id] = nil
            return Wire.append(.done, id: id, body: Array(#"{"error":"the pipeline runner failed"}"#.utf8), to: &output)
        }
        run.handle = js.retain(started)
        proceed(id)
    }

    /// Steps the run's functions until it parks (a pending function awaits its outbound calls) or
    /// ends (its reply is sent).
    private func proceed(_ id: Int64) {
        while let run = runs[id] {
            let spec = run.function
            let park = run.outstanding > 0
            // A function still pending after (nearly) its whole timeout timed out rather than forgot to call back.
            let timedOut = Double(ProgressBoard.nowNS() - run.functionStartNS) / 1e6 >= Double(spec.timeoutMS) * 0.9
            let nextPosition = run.position + 1
            if nextPosition < run.header.functions.count, run.header.functions[nextPosition].detached, !run.answered {
                // The functions the token waits for are done: answer now, then go on with the detached ones.
                enter(id, run)
                let reply = try? js.call(api.answer, [run.handle, js.makeBool(timedOut), js.makeBool(park)])
                board.left()
                guard let bytes = reply.map(js.utf8) else {
                    return finish(id, run, Array(#"{"error":"the pipeline runner failed"}"#.utf8))
                }
                if bytes.isEmpty { return }  // parked
                run.answered = true
                Wire.append(.answered, id: id, body: bytes, to: &output)
                // The detached functions start later, after this answer has been written: one of them
                // may run until it is killed, and nothing queued behind it would ever leave.
                if detached.isEmpty { detachedSinceNS = ProgressBoard.nowNS() }
                detached.append(id)
                return
            }
            if nextPosition == run.header.functions.count {
                enter(id, run)
                let reply = try? js.call(api.end, [run.handle, js.makeBool(timedOut), js.makeBool(park)])
                board.left()
                let bytes = reply.map(js.utf8) ?? Array(#"{"error":"the pipeline runner failed"}"#.utf8)
                if bytes.isEmpty { return }  // parked
                finish(id, run, bytes)
                return
            }
            let next = run.header.functions[nextPosition]
            guard run.generation.factories.indices.contains(next.index) else {
                run.header.functions.removeLast(run.header.functions.count - nextPosition)
                continue
            }
            enter(id, run)
            let stepStart = ProgressBoard.nowNS()
            run.starts[next.index] = stepStart
            board.entering(frame: id, function: next.index, since: stepStart)
            let state: Double
            do {
                state = js.number(try js.call(api.advance, [run.handle, js.makeBool(timedOut), js.makeBool(park), js.makeNumber(Double(next.index)),
                                                            run.generation.factories[next.index], run.generation.names[next.index],
                                                            js.makeBool(next.skip)]))
            } catch {
                // Only the runner itself can throw here: user code's exceptions are caught inside it.
                let goOn = (try? js.call(api.fail, [run.handle, js.makeNumber(Double(next.index)), js.makeBool(next.skip),
                                                    js.makeString("failed\u{0}\(error.description)")])).map(js.bool) ?? false
                state = goOn ? 1 : 0
            }
            board.left()
            switch state {
            case 2: return  // parked: the function before `next` awaits its calls
            case 1:
                run.position = nextPosition
            default:
                // Stopped: the reply comes from `end` with nothing left to settle.
                run.header.functions.removeLast(run.header.functions.count - nextPosition)
                run.outstanding = 0
            }
        }
    }

    func detachedAreDue(now: Int64) -> Bool {
        !detached.isEmpty && (detached.count >= Self.detachedBatch || now - detachedSinceNS >= Self.detachedWaitNS)
    }

    /// Starts the detached functions of the answered runs (the caller has written their answers).
    /// False when there were none.
    @discardableResult
    func runDetached() -> Bool {
        guard !detached.isEmpty else { return false }
        let ids = detached
        detached.removeAll(keepingCapacity: true)
        for id in ids { proceed(id) }
        return true
    }

    /// The run's code is about to run in the VM.
    private func enter(_ id: Int64, _ run: Run) {
        running = id
        board.entering(frame: id, function: run.function.index, since: run.functionStartNS)
    }

    private func finish(_ id: Int64, _ run: Run, _ reply: [UInt8]) {
        running = nil
        runs[id] = nil
        js.release(run.handle)
        if run.answered { Wire.append(.done, id: id, body: reply, to: &lazyOutput) } else { Wire.append(.done, id: id, body: reply, to: &output) }
    }

    /// The reply of a run in which no function ran.
    private static let nothingRan = Array(#"{"results":[],"out":{"ops":[],"logs":[],"refused":[]}}"#.utf8)
    private static let overloaded = String(decoding: OutboundCall.Result(OutboundHTTP.overloaded).json, as: UTF8.self)

    /// `hostFetch` from JavaScript: hands the request of function `index` to the service and returns
    /// its call id ("0": no run is running). The service decides whether it may be made; a call it has
    /// said it would refuse now (outbound HTTP saturated; for a detached function, every transfer slot
    /// taken) is refused here at once, and its outcome is returned instead.
    private func outboundCall(_ request: String, function index: Int?) -> String? {
        guard let id = running, let run = runs[id], let index, let start = run.starts[index] else { return "0" }
        if board.outbound.refuses(queueing: !run.answered) { return Self.overloaded }
        lastCall += 1
        calls[lastCall] = id
        run.outstanding += 1
        Wire.append(.httpCall, id: id, words: [String(lastCall), String(index), String(start)], body: Array(request.utf8), to: &output)
        return String(lastCall)
    }
}
