import Claims
import Foundation
import JSONCore
import Logging
import Synchronization
import Pipeline
import Testing
@_exported import TestSupport

/// The built `tokenservice` binary sits next to the test bundle; its `pipeline-worker` subcommand is the worker.
enum TestWorker {
    static var executable: String { WorkerLaunch.siblingExecutable(named: "tokenservice") }

    static func engine(workers: Int = 2, memoryMB: Int = 256, spareIdle: Duration = .seconds(30), logger: Logger = Logger(label: "pipeline-tests"),
                       configure: (inout PipelineEngine.Configuration) -> Void = { _ in }) -> PipelineEngine {
        ignoreSIGPIPE()
        var config = PipelineEngine.Configuration(
            launch: WorkerLaunch(executable: executable, arguments: ["pipeline-worker"]),
            workers: workers, memoryLimitMB: memoryMB)
        config.killGraceMS = 100
        config.spareIdle = spareIdle
        configure(&config)
        return PipelineEngine(configuration: config, logger: logger)
    }
}

/// The lines a test's logger wrote (message and metadata), at `info` and above.
final class LogCapture: Sendable {
    private let stored = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
    var lines: [(message: String, metadata: Logger.Metadata)] { stored.withLock { $0 } }

    func logger(label: String) -> Logger { Logger(label: label) { _ in Handler(capture: self) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let line = ("\(event.message)", metadata.merging(event.metadata ?? [:]) { $1 })
            capture.stored.withLock { $0.append(line) }
        }
    }
}

struct Fn {
    var name: String
    var source: String
    /// 20 s, not the 3 s default: these tests check what a function does, not how soon a loaded CI machine
    /// (every suite starting at once on two cores) gets round to it; the timeout tests set their own.
    var timeoutMS = 20_000
    var terminateOnTimeout = PipelineFunctionSettings().terminateOnTimeout
    var async = PipelineFunctionSettings().async
    var enabled = PipelineFunctionSettings().enabled
    /// A function that never calls back and never returns: an endless microtask loop.
    static func awaitLoop(name: String = "hang", timeoutMS: Int) -> Fn {
        Fn(name: name, source: "async function pipe(u, c, cb) { while (true) await null; }", timeoutMS: timeoutMS)
    }

    var spec: PipelineFunctionSpec {
        var settings = PipelineFunctionSettings()
        settings.enabled = enabled
        settings.async = async
        settings.timeoutMS = timeoutMS
        settings.terminateOnTimeout = terminateOnTimeout
        return PipelineFunctionSpec(name: name, source: source, settings: settings)
    }
}

extension PipelineEngine {
    func run(_ fns: [Fn], trigger: PipelineTrigger = .preAccessToken, user: JSONValue = .null,
             context: JSONObject = ["clientId": "billing", "accessTokenTarget": "programmaticAccount"],
             env: JSONObject = [:], outbound: OutboundPolicy = .none) async throws -> PipelineReport {
        let pipeline = try await prepare(fns.map(\.spec), trigger: trigger, env: env, outbound: outbound)
        return await run(pipeline, user: user, context: context)
    }
}

extension PipelineReport {
    /// The claims the pipeline's operations produce on an empty claim set.
    var claims: JSONObject {
        var o = JSONObject()
        extensions.apply(to: &o)
        return o
    }
}
