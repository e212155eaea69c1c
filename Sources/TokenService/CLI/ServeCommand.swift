import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Pipeline
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Start the HTTP service.")

    @Option(help: "Configuration file.") var config: String = "config/dev.json"
    @Option(help: "Listen address (overrides the config).") var host: String?
    @Option(help: "Listen port (overrides the config).") var port: Int?

    func run() async throws {
        var logger = Logger(label: "tokenservice")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let engine = PipelineEngine.forThisExecutable(logger: logger)
        let state: ServiceState
        do { state = try await ServiceState.load(path: config, engine: engine) } catch {
            engine.shutdown()
            throw CommandFailure("configuration \(config) is not valid:\n" + error.problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
        let holder = StateHolder(state)
        let log = logger
        // Read at start: a reload keeps the shared store (moving replicas to another Redis is a restart).
        let core = ServiceCore.make(holder: holder, engine: engine, logger: logger, shared: state.config.sharedState.store())
        let app = Application(
            router: Routes.build(core: core),
            configuration: .init(address: .hostname(host ?? state.config.listen.host, port: port ?? state.config.listen.port),
                                 serverName: nil),
            // Shut down in reverse order: the server drains first, the pipeline engine stops last (for good).
            services: [engine, ReloadOnHangup(path: config, holder: holder, engine: engine, logger: logger)],
            onServerRunning: { channel in
                log.info("tokenservice listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")",
                                                                 "issuer": "\(state.config.issuer)"])
            },
            logger: logger)
        defer { engine.shutdown() }
        try await app.runService()
    }
}

extension PipelineEngine {
    /// Workers are this executable started as `tokenservice pipeline-worker`, one per core.
    static func forThisExecutable(logger: Logger, executable: String = "/proc/self/exe") -> PipelineEngine {
        let memory = ProcessInfo.processInfo.environment["TOKENSERVICE_PIPELINE_MEMORY_MB"].flatMap(Int.init) ?? 512
        return PipelineEngine(
            configuration: .init(launch: WorkerLaunch(executable: executable, arguments: ["pipeline-worker"]),
                                 workers: ProcessInfo.processInfo.environment["TOKENSERVICE_PIPELINE_WORKERS"].flatMap(Int.init)
                                     ?? ProcessInfo.processInfo.activeProcessorCount,
                                 memoryLimitMB: memory),
            logger: logger)
    }
}

extension ServiceCore {
    static func make(holder: StateHolder, engine: PipelineEngine?, logger: Logger, shared: any SharedState = InProcessState()) -> ServiceCore {
        let issuer = Issuer(engine: engine, metrics: ServiceMetrics(), logger: logger,
                            now: { Int64(Date().timeIntervalSince1970) })
        return ServiceCore(holder: holder, issuer: issuer, shared: shared)
    }
}

/// SIGHUP: reload config, keys and pipelines; swap only when everything validates.
struct ReloadOnHangup: Service {
    let path: String
    let holder: StateHolder
    let engine: PipelineEngine
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                holder.replace(with: try await ServiceState.load(path: path, engine: engine))
                logger.info("configuration reloaded", metadata: ["path": "\(path)"])
            } catch {
                logger.error("reload failed; keeping the previous configuration",
                             metadata: ["path": "\(path)", "problems": "\(error.problems.joined(separator: "; "))"])
            }
        }
    }
}

struct PipelineWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline-worker", abstract: "Internal: a pipeline worker process (started by serve).", shouldDisplay: false)
    func run() throws {
        let status = PipelineWorker.main()
        if status != 0 { throw ExitCode(status) }
    }
}

extension ServiceConfig.SharedStateConfig {
    func store() -> any SharedState {
        switch self {
        case .inProcess: return InProcessState()
        case .redis(let settings): return RedisState(settings: settings)
        }
    }
}
