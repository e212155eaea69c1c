import Claims
import JSONCore

/// A worker's answer to a run (`Wire.RunReply`) as a `PipelineReport`.
enum PipelineReply {
    static func decode(_ frame: [UInt8], pipeline: CompiledPipeline, total: Duration) -> PipelineReport {
        var report = PipelineReport()
        guard let reply = Wire.RunReply(json: frame) else {
            report.outcome = .failed(function: "(worker)", reason: "unreadable reply from the pipeline worker")
            return report
        }
        if let error = reply.error {
            report.outcome = .failed(function: "(worker)", reason: error)
            return report
        }
        let share = reply.results.isEmpty ? total : total / reply.results.count
        for r in reply.results where pipeline.functions.indices.contains(r.index) {
            let spec = pipeline.functions[r.index]
            let outcome: FunctionOutcome
            switch r.outcome {
            case "ok": outcome = .ok
            case "denied": outcome = .denied(r.message)
            case "timeout": outcome = spec.terminateOnTimeout ? .failed("timed out after \(spec.timeoutMS) ms") : .skipped("timed out")
            case "pending": outcome = spec.terminateOnTimeout ? .failed("did not call back") : .skipped("did not call back")
            default: outcome = spec.terminateOnTimeout ? .failed(r.message) : .skipped(r.message)
            }
            report.functions.append((spec.name, outcome, share))
            switch outcome {
            case .denied(let m): report.outcome = .denied(function: spec.name, message: m)
            case .failed(let m): report.outcome = .failed(function: spec.name, reason: m)
            case .ok, .skipped: break
            }
        }
        report.extensions.operations = reply.operations
        report.logs = reply.logs
        report.refusedClaims = reply.refused
        if reply.droppedLogs > 0 {
            report.logs.append(PipelineLogLine(function: "(pipeline)", message: "\(reply.droppedLogs) more log lines were dropped"))
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
