import Claims
import JSONCore

/// A worker's answer to a run (`{"results": [...], "out": {"ops", "logs", "refused", "droppedLogs"}}`)
/// as a `PipelineReport`.
enum PipelineReply {
    static func decode(_ frame: [UInt8], pipeline: CompiledPipeline, total: Duration) -> PipelineReport {
        var report = PipelineReport()
        let o = try? JSON.parse(frame).objectValue
        if let error = o?["error"]?.stringValue {
            report.outcome = .failed(function: "(worker)", reason: error)
            return report
        }
        guard let o, let results = o["results"]?.arrayValue else {
            report.outcome = .failed(function: "(worker)", reason: "unreadable reply from the pipeline worker")
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
        let limit = ClaimExtensions.maxBytes
        if frame.count * 6 > limit, JSON.serialize(.object(added)).count > limit {
            report.outcome = .failed(function: "(pipeline)", reason: "pipeline claims exceed \(limit >> 10) KiB")
            report.extensions = ClaimExtensions()
        }
        return report
    }
}
