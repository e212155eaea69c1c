import Foundation
import NIOCore
import Logging
import Pipeline
import ServiceLifecycle
import UnixSignals

/// What `serve` starts from.
struct AppConfiguration: Sendable {
    var configPath: String
    /// Override the config's `listen`.
    var host: String?
    var port: Int?
    var logger: Logger
    /// Told the listener's address once it accepts connections (tests listen on port 0).
    var onListening: @Sendable (SocketAddress) async -> Void = { _ in }
}

/// What the application is built with that a test may provide instead.
struct AppDependencies: Sendable {
    /// Nil: workers of this executable, sized by the config's `runtime`.
    var engine: PipelineEngine?
    /// Nil: as the config's `shared_state` says.
    var shared: (any SharedState)?
    var now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    var environment: [String: String] = ProcessInfo.processInfo.environment
}

/// What `buildApplication` built: the long-running services (pipeline engine, shared state, reload on
/// SIGHUP, the HTTP listener), and the parts tests and offline commands use.
struct BuiltApplication: Sendable {
    let edge: HTTPEdge<ServiceResponder>
    let core: ServiceCore
    let engine: PipelineEngine
    let services: [any Service]
    let logger: Logger

    /// Runs until SIGTERM or SIGINT (or `signals`), then shuts down in reverse order: the listener drains
    /// first, then the shared state (Redis) closes, and the pipeline engine stops last.
    func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        try await serviceGroup(signals: signals).run()
    }

    func serviceGroup(signals: [UnixSignal]) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: signals, logger: logger))
    }
}

/// The one composition root: the configuration is read and checked once, and everything built from it —
/// pipeline engine, keys and clients, shared state, grants, the responder and the long-running
/// services — is wired here and nowhere else.
func buildApplication(configuration: AppConfiguration, dependencies: AppDependencies = AppDependencies()) async throws(ConfigError)
    -> BuiltApplication
{
    let logger = configuration.logger
    let (config, engine, state) = try await ServiceState.start(path: configuration.configPath, environment: dependencies.environment,
                                                              engine: dependencies.engine, logger: logger)
    // Read at start: a reload keeps the shared store (moving replicas to another Redis is a restart).
    let core = ServiceCore.compose(state: state, engine: engine, shared: dependencies.shared ?? config.sharedState.store(), now: dependencies.now)
    let reload = ReloadOnHangup(path: configuration.configPath, holder: core.holder, engine: engine, logger: logger,
                                environment: dependencies.environment)
    let descriptors = DescriptorLimit.raiseToHard()
    let connectionCap = DescriptorLimit.connectionCap(configured: config.listen.maxConnections, descriptors: descriptors)
    if connectionCap < config.listen.maxConnections {
        logger.warning("listen.max_connections lowered to what the open-file limit leaves room for",
                       metadata: ["max_connections": "\(connectionCap)", "open_file_limit": "\(descriptors)"])
    }
    let timeouts = ConnectionTimeouts(header: .seconds(Int64(config.listen.headerTimeoutSeconds)),
                                      idle: .seconds(Int64(config.listen.idleTimeoutSeconds)))
    var edge = HTTPEdge(settings: .init(host: configuration.host ?? config.listen.host, port: configuration.port ?? config.listen.port,
                                        timeouts: timeouts, maxConnections: connectionCap),
                        responder: ServiceResponder(core: core), metrics: core.metrics, logger: logger)
    let issuer = config.issuer
    edge.onListening = { address in
        logger.info("tokenservice listening", metadata: ["address": "\(address)", "issuer": "\(issuer)"])
        await configuration.onListening(address)
    }
    let services: [any Service] = [engine] + [core.shared as? any Service].compactMap { $0 } + [reload, edge]
    return BuiltApplication(edge: edge, core: core, engine: engine, services: services, logger: logger)
}

extension ServiceCore {
    /// The service behind the HTTP API, composed in one place for `serve` and the offline commands.
    static func compose(state: ServiceState, engine: PipelineEngine, shared: any SharedState, now: @escaping @Sendable () -> Int64) -> ServiceCore {
        ServiceCore(holder: StateHolder(state), issuer: Issuer(engine: engine, metrics: ServiceMetrics(), now: now), grants: .standard,
                    shared: shared)
    }
}

extension ServiceState {
    /// Reads and checks the config, starts the pipeline engine its `runtime` asks for (unless one is
    /// given) and loads keys, clients and pipelines. `serve` and the offline commands start the same way.
    static func start(path: String, environment: [String: String], engine given: PipelineEngine?, logger: Logger)
        async throws(ConfigError) -> (ServiceConfig, PipelineEngine, ServiceState)
    {
        let config = try ConfigLoader.load(path: path, environment: environment)
        let engine = given ?? PipelineEngine.forThisExecutable(logger: logger, runtime: config.runtime)
        do { return (config, engine, try await ServiceState.load(config: config, engine: engine)) } catch {
            if given == nil { engine.shutdown() }
            throw error
        }
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

extension PipelineEngine {
    /// Workers are this executable started as `tokenservice pipeline-worker`.
    static func forThisExecutable(logger: Logger, runtime: ServiceConfig.Runtime, executable: String = "/proc/self/exe") -> PipelineEngine {
        PipelineEngine(
            configuration: .init(launch: WorkerLaunch(executable: executable, arguments: ["pipeline-worker"]),
                                 workers: runtime.pipelineWorkers > 0 ? runtime.pipelineWorkers : ProcessInfo.processInfo.activeProcessorCount,
                                 memoryLimitMB: runtime.pipelineMemoryMB),
            logger: logger)
    }
}
