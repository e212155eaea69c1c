import JOSE
public import Claims
public import Logging
import JSONCore

/// The triggers a token service runs: GenAuth's PRE_OIDC_ID_TOKEN_ISSUED / PRE_OIDC_ACCESS_TOKEN_ISSUED, and
/// `pre_transaction_token` before a Transaction Token, whose functions add to its `tctx` only.
public enum PipelineTrigger: String, Sendable, CaseIterable {
    case preIDToken = "pre_id_token"
    case preAccessToken = "pre_access_token"
    case preTransactionToken = "pre_transaction_token"
}

/// One configured pipeline function with its source text.
public struct PipelineFunctionSpec: Sendable, Equatable {
    public var name: String
    public var source: String
    public var settings: PipelineFunctionSettings

    public var enabled: Bool { settings.enabled }
    public var async: Bool { settings.async }
    public var timeoutMS: Int { settings.timeoutMS }
    public var terminateOnTimeout: Bool { settings.terminateOnTimeout }

    public init(name: String, source: String, settings: PipelineFunctionSettings = PipelineFunctionSettings()) {
        self.name = name
        self.source = source
        self.settings = settings
    }
}

/// How one function runs (config `pipelines.<trigger>[]`): the one definition of these settings and their
/// defaults, read by the config loader and carried to the engine.
public struct PipelineFunctionSettings: Sendable, Equatable {
    public var enabled = true
    /// Runs after the response is decided; its claims and errors are ignored.
    public var async = false
    /// The function's whole time, outbound calls included.
    public var timeoutMS = 3000
    /// Fail closed (500) when the function throws, rejects, overruns or does not call back; false skips it.
    public var terminateOnTimeout = true

    public init() {}
}

/// A line a function logged with `log` / `console.log`.
public struct PipelineLogLine: Sendable, Equatable {
    public var function: String
    public var message: String
    public init(function: String, message: String) { self.function = function; self.message = message }
}

/// How one function's run ended.
public enum FunctionOutcome: Sendable, Equatable {
    case ok
    /// `callback(error)`: issuance is refused with this message.
    case denied(String)
    /// Threw, rejected, timed out or broke a limit.
    case failed(String)
    /// Failed, but `terminate_on_timeout: false` let issuance go on without its changes.
    case skipped(String)

    public var label: String {
        switch self {
        case .ok: return "ok"
        case .denied: return "denied"
        case .failed: return "failed"
        case .skipped: return "skipped"
        }
    }
}

/// The result of running a trigger's pipeline for one token.
public struct PipelineReport: Sendable {
    public enum Outcome: Sendable, Equatable {
        case proceed
        case denied(function: String, message: String)
        case failed(function: String, reason: String)
    }
    public var outcome: Outcome
    /// The claim operations of the functions that completed, in order.
    public var extensions: ClaimExtensions
    public var logs: [PipelineLogLine]
    /// Each synchronous function that ran: name, outcome, duration.
    public var functions: [(name: String, outcome: FunctionOutcome, duration: Duration)]
    /// Claim names the pipeline tried to touch but may not (registered claims).
    public var refusedClaims: [String]
    /// The outbound HTTP calls its functions made (or were refused), in the order they ended.
    public var httpCalls: [PipelineHTTPCall] = []

    public init(outcome: Outcome = .proceed, extensions: ClaimExtensions = ClaimExtensions(), logs: [PipelineLogLine] = [],
                functions: [(name: String, outcome: FunctionOutcome, duration: Duration)] = [], refusedClaims: [String] = []) {
        self.outcome = outcome; self.extensions = extensions; self.logs = logs
        self.functions = functions; self.refusedClaims = refusedClaims
    }
}

extension PipelineHTTPCall {
    /// Log metadata for the call, with the function's name: scheme, host and port, and a hash of the
    /// path — never the path itself (Slack/DingTalk-style webhooks keep their secret there), the query,
    /// the headers or a body.
    public func logMetadata(functionName: String) -> Logger.Metadata {
        let (origin, path) = Self.split(url)
        var m: Logger.Metadata = ["function": "\(functionName)", "method": "\(method)", "origin": "\(origin)", "ms": "\(milliseconds)"]
        if !path.isEmpty { m["path_sha256"] = "\(Self.pathHash(path))" }
        if let status { m["status"] = "\(status)" }
        if let error { m["error"] = "\(error)" }
        return m
    }

    /// `scheme://host:port` and the path after it.
    static func split(_ url: String) -> (origin: String, path: Substring) {
        guard let scheme = url.range(of: "://") else { return (url, "") }
        let slash = url[scheme.upperBound...].firstIndex(of: "/") ?? url.endIndex
        return (String(url[..<slash]), url[slash...])
    }

    /// The first 16 hex digits of the path's SHA-256: tells calls to different paths apart without revealing them.
    static func pathHash(_ path: Substring) -> String {
        guard let digest = try? Digest.hash(.sha256, Array(path.utf8)) else { return "unavailable" }
        return digest.prefix(8).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
