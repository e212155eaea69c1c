import OAuthWire
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
    /// Told each listener's name and address once it accepts connections (tests listen on port 0).
    var onListening: @Sendable (_ listener: String, SocketAddress) async -> Void = { _, _ in }
}

/// What the application is built with that a test may provide instead.
struct AppDependencies: Sendable {
    /// Nil: workers of this executable, sized by the config's `runtime`.
    var engine: PipelineEngine?
    /// Nil: as the config's `shared_state` says.
    var shared: (any SharedState)?
    var now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    var environment: [String: String] = ProcessInfo.processInfo.environment
    /// The listeners' event loops (default: NIO's singleton group, one loop per core).
    var eventLoopGroup: (any EventLoopGroup)?
}

/// What `buildApplication` built: the long-running services (pipeline engine, shared state, reload on
/// SIGHUP, the HTTP listeners), and the parts tests and offline commands use.
struct BuiltApplication: Sendable {
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
    let shared: any SharedState
    let tls: ServerTLS?
    do throws(ConfigError) {
        if let given = dependencies.shared { shared = given } else { shared = try config.sharedState.store() }
        do { tls = try config.listen.tls.map { try ServerTLS(files: $0) } } catch { throw ConfigError(problems: ["$.listen.tls: \(error)"]) }
    } catch {
        if dependencies.engine == nil { engine.shutdown() }
        throw error
    }
    let core = ServiceCore.compose(state: state, engine: engine, shared: shared, logger: logger, now: dependencies.now)
    let reload = ReloadOnHangup(path: configuration.configPath, holder: core.holder, engine: engine, tls: tls, metrics: core.metrics,
                                logger: logger, environment: dependencies.environment)
    let descriptors = DescriptorLimit.raiseToHard()
    let connectionCap = DescriptorLimit.connectionCap(configured: config.listen.maxConnections, descriptors: descriptors)
    if connectionCap < config.listen.maxConnections {
        logger.warning("listen.max_connections lowered to what the open-file limit leaves room for",
                       metadata: ["max_connections": "\(connectionCap)", "open_file_limit": "\(descriptors)"])
    }
    let timeouts = ConnectionTimeouts(header: .seconds(Int64(config.listen.headerTimeoutSeconds)),
                                      idle: .seconds(Int64(config.listen.idleTimeoutSeconds)))
    // With an admin listener, /metrics and /healthz (and the gateway API if asked) move there.
    var adminEndpoints: Set<Endpoint> = []
    if let admin = config.listen.admin { adminEndpoints = admin.gatewayAPI ? [.health, .metrics, .mint] : [.health, .metrics] }
    let issuer = config.issuer
    func edge(_ name: String, host: String, port: Int, serves: Set<Endpoint>) -> HTTPEdge<ServiceResponder> {
        var edge = HTTPEdge(settings: .init(host: host, port: port, timeouts: timeouts, maxConnections: connectionCap,
                                            trustedProxies: TrustedProxies(ranges: config.listen.trustedProxies), tls: tls, name: name),
                            responder: ServiceResponder(core: core, serves: serves), metrics: core.metrics, logger: logger)
        if let group = dependencies.eventLoopGroup { edge.group = group }
        edge.onListening = { address in
            logger.info("tokenservice listening", metadata: ["listener": "\(name)", "address": "\(address)", "issuer": "\(issuer)",
                                                             "tls": "\(tls != nil)", "config_sha256": "\(config.configDigest)"])
            await configuration.onListening(name, address)
        }
        return edge
    }
    var edges = [edge("public", host: configuration.host ?? config.listen.host, port: configuration.port ?? config.listen.port,
                      serves: Set(Endpoint.allCases).subtracting(adminEndpoints))]
    if let admin = config.listen.admin {
        edges.append(edge("admin", host: admin.host, port: admin.port, serves: adminEndpoints))
    }
    let services: [any Service] = [engine] + [core.shared as? any Service].compactMap { $0 } + [reload] + edges
    return BuiltApplication(core: core, engine: engine, services: services, logger: logger)
}

extension ServiceCore {
    /// The service behind the HTTP API, composed in one place for `serve` and the offline commands.
    static func compose(state: ServiceState, engine: PipelineEngine, shared: any SharedState, logger: Logger,
                        now: @escaping @Sendable () -> Int64) -> ServiceCore {
        let metrics = ServiceMetrics()
        metrics.configLoaded(digest: state.configDigest, signingKid: state.config.signingKey)
        return ServiceCore(holder: StateHolder(state), issuer: Issuer(engine: engine, metrics: metrics, now: now), grants: .standard, shared: shared,
                           workloads: WorkloadIdentity(logger: logger))
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
    func store() throws(ConfigError) -> any SharedState {
        switch self {
        case .inProcess: return InProcessState()
        case .redis(let settings): return try RedisState(settings: settings)
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
