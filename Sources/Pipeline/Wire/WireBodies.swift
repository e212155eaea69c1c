package import Claims
package import JSONCore

/// The JSON bodies of the wire frames (see `Wire`), each a typed value with one encoder and one decoder.
/// Bodies the worker's JavaScript writes (`bootstrap.js`: run replies, outbound requests) are decoded here;
/// bodies both Swift sides write and read (load request and reply) are encoded and decoded here.
extension Wire {
    /// `L` (service → worker): a pipeline generation to compile.
    package struct LoadRequest {
        package struct Function {
            package var name: String
            package var source: String
            package init(name: String, source: String) {
                self.name = name
                self.source = source
            }
        }
        package var generation: Int64
        /// Passed to the bootstrap's `makeSettings` as JSON (trigger, env, registered claims, claim bound).
        package var settings: JSONObject
        package var functions: [Function]

        package var json: [UInt8] {
            JSON.serialize(.object(["gen": .int(generation), "settings": .object(settings),
                                    "fns": .array(functions.map { ["name": .string($0.name), "source": .string($0.source)] })]))
        }

        package init(generation: Int64, settings: JSONObject, functions: [Function]) {
            self.generation = generation
            self.settings = settings
            self.functions = functions
        }

        package init?(json: some Collection<UInt8>) {
            guard let o = (try? JSON.parse(json))?.objectValue, let gen = o["gen"]?.intValue, let settings = o["settings"]?.objectValue,
                  let fns = o["fns"]?.arrayValue else { return nil }
            generation = gen
            self.settings = settings
            functions = fns.map { Function(name: $0.objectValue?["name"]?.stringValue ?? "?", source: $0.objectValue?["source"]?.stringValue ?? "") }
        }
    }

    /// `D` answering an `L` (worker → service): compiled, or why not.
    package struct LoadReply: Equatable {
        package var errors: [String]
        package var ok: Bool { errors.isEmpty }

        package var json: [UInt8] {
            ok ? Array(#"{"ok":true}"#.utf8) : JSON.serialize(.object(["ok": false, "errors": .array(errors.map { .string($0) })]))
        }

        package init(errors: [String]) { self.errors = errors }

        package init?(json: some Collection<UInt8>) {
            guard let o = (try? JSON.parse(json))?.objectValue, let ok = o["ok"]?.boolValue else { return nil }
            errors = ok ? [] : (o["errors"]?.arrayValue?.compactMap(\.stringValue) ?? ["load failed"])
            if !ok, errors.isEmpty { errors = ["load failed"] }
        }
    }

    /// `D`/`A` answering an `R` (worker → service), as `bootstrap.js`'s `reply` writes it:
    /// `{"results": [{"i", "o", "m"}…], "out": {"ops", "logs", "refused", "droppedLogs"}}`, or `{"error"}`.
    package struct RunReply {
        package struct Result { package var index: Int; package var outcome: String; package var message: String }
        package var error: String?
        package var results: [Result] = []
        package var operations: [ClaimExtensions.Operation] = []
        package var logs: [PipelineLogLine] = []
        package var refused: [String] = []
        package var droppedLogs: Int64 = 0

        package init?(json: some Collection<UInt8>) {
            guard let o = (try? JSON.parse(json))?.objectValue else { return nil }
            if let error = o["error"]?.stringValue {
                self.error = error
                return
            }
            guard let results = o["results"]?.arrayValue else { return nil }
            for r in results {
                guard let ro = r.objectValue, let i = ro["i"]?.intValue else { continue }
                self.results.append(Result(index: Int(i), outcome: ro["o"]?.stringValue ?? "failed", message: ro["m"]?.stringValue ?? ""))
            }
            guard let out = o["out"]?.objectValue else { return }
            for op in out["ops"]?.arrayValue ?? [] {
                guard let a = op.arrayValue, let kind = a.first?.stringValue, a.count >= 2, let key = a[1].stringValue else { continue }
                if kind == "add", a.count == 3 { operations.append(.add(key, a[2])) }
                if kind == "remove" { operations.append(.remove(key)) }
            }
            for line in out["logs"]?.arrayValue ?? [] {
                if let l = line.arrayValue, l.count == 2, let f = l[0].stringValue, let m = l[1].stringValue {
                    logs.append(PipelineLogLine(function: f, message: m))
                }
            }
            refused = out["refused"]?.arrayValue?.compactMap(\.stringValue) ?? []
            droppedLogs = out["droppedLogs"]?.intValue ?? 0
        }
    }

    /// `C` (worker → service): an outbound HTTP call as the worker's `axios` describes it.
    package struct OutboundRequest {
        var method: String
        var url: String
        /// Header values that are not strings are kept as nil (refused by the policy check).
        var headers: [(name: String, value: String?)]
        var data: String?
        /// Milliseconds the function asked for (0: none).
        var timeoutMS: Int64

        package init?(json: some Collection<UInt8>) {
            guard let o = (try? JSON.parse(json))?.objectValue, let method = o["method"]?.stringValue, let url = o["url"]?.stringValue else {
                return nil
            }
            self.method = method
            self.url = url
            headers = (o["headers"]?.objectValue ?? [:]).map { ($0.key, $0.value.stringValue) }
            data = o["data"]?.stringValue
            timeoutMS = o["timeout"]?.intValue ?? 0
        }
    }
}
