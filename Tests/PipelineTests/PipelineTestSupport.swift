import Claims
import Foundation
import JSONCore
import Logging
import Pipeline
import Testing
@_exported import TestSupport

/// The built `tokenservice` binary sits next to the test bundle; its `pipeline-worker` subcommand is the worker.
enum TestWorker {
    static var executable: String { WorkerLaunch.siblingExecutable(named: "tokenservice") }

    static func engine(workers: Int = 2, memoryMB: Int = 256, spareIdle: Duration = .seconds(30),
                       configure: (inout PipelineEngine.Configuration) -> Void = { _ in }) -> PipelineEngine {
        ignoreSIGPIPE()
        var config = PipelineEngine.Configuration(
            launch: WorkerLaunch(executable: executable, arguments: ["pipeline-worker"]),
            workers: workers, memoryLimitMB: memoryMB)
        config.killGraceMS = 100
        config.spareIdle = spareIdle
        configure(&config)
        return PipelineEngine(configuration: config, logger: Logger(label: "pipeline-tests"))
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
