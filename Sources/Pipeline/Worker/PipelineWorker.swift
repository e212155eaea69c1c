internal import CPipelineSupport
import JSONCore
#if canImport(Glibc)
import Glibc
#endif

/// The pipeline worker process (`tokenservice pipeline-worker`): owns one JavaScriptCore VM, reads
/// requests on stdin, answers on stdout, reports progress on fd 3. The service kills and replaces it
/// when a function overruns in a way the VM's own time limit cannot stop, or when it breaks its
/// memory limit, so nothing a pipeline does can hang or exhaust the service itself.
public enum PipelineWorker {
    /// Runs the worker loop until stdin closes; returns the exit status.
    public static func main() -> Int32 {
        // Memory is bounded from outside: RLIMIT_DATA/AS cannot be used (JavaScriptCore reserves large
        // regions up front) and a gcMaxHeapSize makes its heap grow far larger before collecting
        // (measured: 204 MiB vs 72 MiB resident after 20k runs). The supervisor checks resident memory
        // every 20 ms while a request runs and kills the worker past the limit.
        guard let board = ProgressBoard(fd: 3) ?? ProgressBoard() else { return 3 }
        board.started(-1)
        let worker: WorkerState
        do { worker = try WorkerState(board: board) } catch {
            FileHandleErr.write("pipeline worker: cannot start JavaScriptCore: \(error)\n")
            return 4
        }
        var buffer: [UInt8] = []
        while let frame = FrameIO.readBlocking(0, buffer: &buffer) {
            let reply = worker.handle(frame)
            guard FrameIO.write(1, reply) else { return 0 }
        }
        return 0
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
    let api: (begin: JSHandle, step: JSHandle, settle: JSHandle, restore: JSHandle, finish: JSHandle, makeEnv: JSHandle)
    let board: ProgressBoard
    struct Generation {
        var trigger: String
        var env: JSHandle
        var names: [String]
        var factories: [JSHandle]
    }
    var generations: [Int: Generation] = [:]

    init(board: ProgressBoard) throws(JSException) {
        self.board = board
        js = try JSRuntime()
        let runner = js.retain(try js.evaluate(Bootstrap.source, sourceURL: "tokenservice:bootstrap"))
        api = (try js.property(runner, "begin"), try js.property(runner, "step"), try js.property(runner, "settle"),
               try js.property(runner, "restore"), try js.property(runner, "finish"), try js.property(runner, "makeEnv"))
    }

    func handle(_ frame: [UInt8]) -> [UInt8] {
        // A run frame is: header JSON \n user JSON \n context JSON. A load frame is one JSON object.
        let parts = frame.split(separator: 0x0A, maxSplits: 2, omittingEmptySubsequences: false)
        guard let header = try? JSON.parse(parts[0]).objectValue, let op = header["op"]?.stringValue else {
            return Array(#"{"error":"bad frame"}"#.utf8)
        }
        switch op {
        case "load": return load(header)
        case "run" where parts.count == 3:
            return run(header, user: String(decoding: parts[1], as: UTF8.self), context: String(decoding: parts[2], as: UTF8.self))
        default: return Array(#"{"error":"unknown op"}"#.utf8)
        }
    }

    /// Compiles each function once. The file becomes the body of a factory function that is called
    /// per request, so top-level state in a file is fresh for every call.
    private func load(_ header: JSONObject) -> [UInt8] {
        guard let gen = header["gen"]?.intValue, let fns = header["fns"]?.arrayValue, let trigger = header["trigger"]?.stringValue else {
            return Array(#"{"ok":false,"errors":["bad load frame"]}"#.utf8)
        }
        var errors: [JSONValue] = []
        var names: [String] = [], factories: [JSHandle] = []
        js.setTimeLimit(seconds: 1)
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
                names.append(name)
                factories.append(factory)
            } catch {
                errors.append(.string("\(name): \(error.description)"))
            }
        }
        guard errors.isEmpty else {
            factories.forEach(js.release)
            return JSON.serialize(.object(["ok": false, "errors": .array(errors)]))
        }
        let envJSON = JSON.serializeString(header["env"] ?? [:])
        guard let env = try? js.call(api.makeEnv, [js.makeString(envJSON)]) else {
            return Array(#"{"ok":false,"errors":["env is not valid"]}"#.utf8)
        }
        generations[Int(gen)] = Generation(trigger: trigger, env: js.retain(env), names: names, factories: factories)
        // Keep a few generations (a reload may race requests that still use the previous one).
        for old in generations.keys.sorted().dropLast(4) {
            if let g = generations.removeValue(forKey: old) { g.factories.forEach(js.release); js.release(g.env) }
        }
        return Array(#"{"ok":true}"#.utf8)
    }

    private func run(_ header: JSONObject, user: String, context: String) -> [UInt8] {
        guard let genID = header["gen"]?.intValue, let gen = generations[Int(genID)], let fns = header["fns"]?.arrayValue else {
            return Array(#"{"error":"unknown generation"}"#.utf8)
        }
        let run: JSHandle
        do {
            run = try js.call(api.begin, [js.makeString(gen.trigger), gen.env, js.makeString(user), js.makeString(context)])
        } catch {
            return JSON.serialize(.object(["error": .string("cannot start run: \(error.description)")]))
        }
        var results: [String] = []
        for f in fns {
            guard let o = f.objectValue, let i = o["i"]?.intValue.map(Int.init), gen.factories.indices.contains(i) else { continue }
            let limitMS = Double(o["t"]?.intValue ?? 3000)
            let skip = o["skip"]?.boolValue ?? false
            board.started(i)
            js.setTimeLimit(seconds: limitMS / 1000)
            let start = ProgressBoard.nowNS()
            var status: String
            do {
                let fs = try js.call(api.step, [run, gen.factories[i], js.makeString(gen.names[i]), js.makeBool(skip)])
                status = js.string(try js.call(api.settle, [run, fs, js.makeBool(skip)]))
            } catch {
                let elapsedMS = Double(ProgressBoard.nowNS() - start) / 1e6
                status = elapsedMS >= limitMS * 0.9 ? "timeout" : "failed\u{0}\(error.description)"
                _ = try? js.evaluate("0", sourceURL: "tokenservice:reset")  // a termination fails the next API call once
                _ = try? js.call(api.restore, [run])
            }
            if status == "pending" {
                let elapsedMS = Double(ProgressBoard.nowNS() - start) / 1e6
                status = elapsedMS >= limitMS * 0.9 ? "timeout" : "pending"
            }
            board.started(-1)
            let parts = status.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
            let outcome = String(parts[0]), message = parts.count > 1 ? String(parts[1]) : ""
            results.append(JSON.serializeString(.object(["i": .int(Int64(i)), "o": .string(outcome), "m": .string(message)])))
            if outcome == "ok" { continue }
            if outcome == "denied" || !skip { break }
        }
        js.setTimeLimit(seconds: 10)
        let out = (try? js.call(api.finish, [run])).map(js.string) ?? #"{"ops":[],"logs":[],"refused":[]}"#
        return Array(("{\"results\":[" + results.joined(separator: ",") + "],\"out\":" + out + "}").utf8)
    }
}
