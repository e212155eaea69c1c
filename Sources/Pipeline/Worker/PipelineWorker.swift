internal import CPipelineSupport
import JSONCore
#if canImport(Glibc)
import Glibc
#endif

/// The pipeline worker process (`tokenservice pipeline-worker`): owns one JavaScriptCore VM, reads
/// requests on stdin, answers on stdout in order, reports progress on fd 3. The service kills and
/// replaces it when a function overruns its timeout or the worker breaks its memory limit, so nothing
/// a pipeline does can hang or exhaust the service itself.
public enum PipelineWorker {
    /// Runs the worker loop until stdin closes; returns the exit status.
    public static func main() -> Int32 {
        // Memory is bounded from outside: RLIMIT_DATA/AS cannot be used (JavaScriptCore reserves large
        // regions up front) and a gcMaxHeapSize makes its heap grow far larger before collecting
        // (measured: 204 MiB vs 72 MiB resident after 20k runs). The supervisor checks resident memory
        // every 20 ms while a request runs and kills the worker past the limit.
        // A worker stuck in a function never sees its input close: it must still die with the service.
        guard ts_exit_with_parent() == 0 else { return 5 }
        guard let board = ProgressBoard(fd: 3) ?? ProgressBoard() else { return 3 }
        board.started(-1)
        let worker: WorkerState
        do { worker = try WorkerState(board: board) } catch {
            FileHandleErr.write("pipeline worker: cannot start JavaScriptCore: \(error)\n")
            return 4
        }
        return serve(worker)
    }

    /// Answers frames in order. Replies to frames that arrived together go out together (one write,
    /// one wake-up of the service's reader), but never later than `flushAfterNS` after the first of
    /// them, and always before the worker waits for more input.
    static func serve(_ worker: WorkerState) -> Int32 {
        let flushAfterNS: Int64 = 200_000
        _ = fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK)
        var input = FrameReader()
        var output: [UInt8] = []
        var oldestNS: Int64 = 0
        var handled: Int64 = 0
        func flush() -> Bool {
            defer { output.removeAll(keepingCapacity: true) }
            return output.isEmpty || FrameIO.writeAll(1, output)
        }
        while true {
            if let frame = input.next() {
                if output.isEmpty { oldestNS = ProgressBoard.nowNS() }
                handled += 1
                worker.board.handling(frame: handled)
                FrameIO.append(worker.handle(frame), to: &output)
                if output.count >= 64 * 1024 || ProgressBoard.nowNS() - oldestNS >= flushAfterNS {
                    guard flush() else { return 0 }
                }
                continue
            }
            let n = input.fill(0)
            if n > 0 { continue }
            guard flush(), n < 0 else { return 0 }
            ts_wait_readable(0)
        }
    }
}

enum FileHandleErr {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// The worker's JavaScript state: the runner API and compiled functions per pipeline generation.
final class WorkerState {
    let js: JSRuntime
    let api: (start: JSHandle, advance: JSHandle, fail: JSHandle, end: JSHandle, makeEnv: JSHandle)
    let board: ProgressBoard
    struct Generation {
        var trigger: JSHandle
        var env: JSHandle
        var names: [JSHandle]
        var factories: [JSHandle]
    }
    var generations: [Int: Generation] = [:]

    init(board: ProgressBoard) throws(JSException) {
        self.board = board
        js = try JSRuntime()
        let runner = js.retain(try js.evaluate(Bootstrap.source, sourceURL: "tokenservice:bootstrap"))
        api = (try js.property(runner, "start"), try js.property(runner, "advance"), try js.property(runner, "fail"),
               try js.property(runner, "end"), try js.property(runner, "makeEnv"))
    }

    func handle(_ frame: [UInt8]) -> [UInt8] {
        // A run frame is: a RunHeader line \n user JSON \n context JSON. A load frame is one JSON object.
        if frame.first == UInt8(ascii: "{") {
            guard let header = try? JSON.parse(frame).objectValue, header["op"] == "load" else {
                return Array(#"{"error":"bad frame"}"#.utf8)
            }
            return load(header)
        }
        let parts = frame.split(separator: 0x0A, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let header = RunHeader(parts[0]) else { return Array(#"{"error":"bad frame"}"#.utf8) }
        // Protected for the whole run: a collection may happen before the VM holds them itself.
        let user = js.retain(js.makeString(utf8: parts[1])), context = js.retain(js.makeString(utf8: parts[2]))
        defer { js.release(user); js.release(context) }
        return run(header, user: user, context: context)
    }

    /// Compiles each function once. The file becomes the body of a factory function that is called
    /// per request, so top-level state in a file is fresh for every call.
    private func load(_ header: JSONObject) -> [UInt8] {
        guard let gen = header["gen"]?.intValue, let fns = header["fns"]?.arrayValue, let trigger = header["trigger"]?.stringValue else {
            return Array(#"{"ok":false,"errors":["bad load frame"]}"#.utf8)
        }
        var errors: [JSONValue] = []
        var names: [JSHandle] = [], factories: [JSHandle] = []
        // Top-level code runs here once per file: the VM's own limit stops a runaway load cleanly. Runs
        // have no VM limit (it costs two CPU-clock system calls per VM entry, ~20 % of a run): the
        // supervisor kills a worker whose function passes its timeout.
        js.setTimeLimit(seconds: 1)
        defer { js.clearTimeLimit() }
        for fn in fns {
            let name = fn.objectValue?["name"]?.stringValue ?? "?"
            let source = fn.objectValue?["source"]?.stringValue ?? ""
            let wrapped = "(function () {" + source + "\n;return typeof pipe === 'function' ? pipe : undefined;\n})"
            do {
                try js.checkSyntax(wrapped, sourceURL: name)
                let factory = js.retain(try js.evaluate(wrapped, sourceURL: name))
                // Run the top level once now so that a file without `pipe` fails the load, not a request.
                let probe = try js.call(factory, [])
                if !js.isFunction(probe) { errors.append(.string("\(name): the file does not define function pipe")) }
                names.append(js.retain(js.makeString(name)))
                factories.append(factory)
            } catch {
                errors.append(.string("\(name): \(error.description)"))
                // A termination by the time limit fails the next API call once: absorb it here.
                _ = try? js.evaluate("0", sourceURL: "tokenservice:reset")
            }
        }
        guard errors.isEmpty else {
            (factories + names).forEach(js.release)
            return JSON.serialize(.object(["ok": false, "errors": .array(errors)]))
        }
        let envJSON = JSON.serializeString(header["env"] ?? [:])
        guard let env = try? js.call(api.makeEnv, [js.makeString(envJSON)]) else {
            (factories + names).forEach(js.release)
            return Array(#"{"ok":false,"errors":["env is not valid"]}"#.utf8)
        }
        generations[Int(gen)] = Generation(trigger: js.retain(js.makeString(trigger)), env: js.retain(env), names: names, factories: factories)
        // Keep a few generations (a reload may race requests that still use the previous one).
        for old in generations.keys.sorted().dropLast(4) {
            if let g = generations.removeValue(forKey: old) { (g.factories + g.names + [g.env, g.trigger]).forEach(js.release) }
        }
        return Array(#"{"ok":true}"#.utf8)
    }

    private func run(_ header: RunHeader, user: JSHandle, context: JSHandle) -> [UInt8] {
        guard let gen = generations[header.generation] else { return Array(#"{"error":"unknown generation"}"#.utf8) }
        var started = false, goOn = true, timedOut = false
        for f in header.functions where goOn && gen.factories.indices.contains(f.index) {
            board.started(f.index)
            let start = ProgressBoard.nowNS()
            let factory = gen.factories[f.index], name = gen.names[f.index]
            let index = js.makeNumber(Double(f.index)), skip = js.makeBool(f.skip)
            do {
                let stepped = started
                    ? try js.call(api.advance, [js.makeBool(timedOut), index, factory, name, skip])
                    : try js.call(api.start, [gen.trigger, gen.env, user, context, index, factory, name, skip])
                started = true
                goOn = js.bool(stepped)
                // A function still pending after (nearly) its whole timeout timed out rather than forgot to call back.
                timedOut = Double(ProgressBoard.nowNS() - start) / 1e6 >= Double(f.timeoutMS) * 0.9
            } catch {
                // Only the runner itself can throw here: user code's exceptions are caught inside it.
                started = true
                goOn = (try? js.call(api.fail, [index, skip, js.makeString("failed\u{0}\(error.description)")])).map(js.bool) ?? false
                timedOut = false
            }
            board.started(-1)
        }
        guard started, let reply = try? js.call(api.end, [js.makeBool(timedOut)]) else {
            return Array(#"{"results":[],"out":{"ops":[],"logs":[],"refused":[]}}"#.utf8)
        }
        return js.utf8(reply)
    }
}

/// The first line of a run frame: `run <generation> <index>,<timeout ms>,<skip 0|1> ...`.
struct RunHeader: Equatable {
    struct Function: Equatable {
        var index: Int
        var timeoutMS: Int
        var skip: Bool
    }
    var generation: Int
    var functions: [Function]

    func encoded() -> [UInt8] {
        Array((["run", String(generation)] + functions.map { "\($0.index),\($0.timeoutMS),\($0.skip ? 1 : 0)" })
            .joined(separator: " ").utf8)
    }

    init(generation: Int, functions: [Function]) {
        self.generation = generation
        self.functions = functions
    }

    init?(_ line: ArraySlice<UInt8>) {
        let words = line.split(separator: 0x20)
        guard words.count >= 2, words[0].elementsEqual("run".utf8), let gen = Int(String(decoding: words[1], as: UTF8.self)) else {
            return nil
        }
        var functions: [Function] = []
        for word in words.dropFirst(2) {
            let f = word.split(separator: 0x2C).map { Int(String(decoding: $0, as: UTF8.self)) }
            guard f.count == 3, let i = f[0], let t = f[1], let skip = f[2], t > 0 else { return nil }
            functions.append(Function(index: i, timeoutMS: t, skip: skip != 0))
        }
        generation = gen
        self.functions = functions
    }
}
