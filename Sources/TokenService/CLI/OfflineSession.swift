import Foundation
import Logging
import Pipeline

/// What the offline commands (mint, pipeline test, config check, microbench) share: a quiet logger,
/// pipeline workers, the configuration loaded exactly as `serve` loads it, and the service composed as
/// `serve` composes it (with this process's memory as the shared state: nothing to agree with offline).
struct OfflineSession {
    let logger: Logger
    let engine: PipelineEngine
    let state: ServiceState
    let core: ServiceCore

    static func with<T>(config path: String, logLevel: Logger.Level = .warning,
                        _ body: (OfflineSession) async throws -> T) async throws -> T {
        var logger = Logger(label: "tokenservice")
        logger.logLevel = logLevel
        let engine: PipelineEngine, state: ServiceState
        do {
            (_, engine, state) = try await ServiceState.start(path: path, environment: ProcessInfo.processInfo.environment, engine: nil,
                                                              logger: logger)
        } catch {
            throw CommandFailure("\(path): \(error.problems.count) problem(s)\n" + error.problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
        defer { engine.shutdown() }
        let core = ServiceCore.compose(state: state, engine: engine, shared: InProcessState(), logger: logger, now: { Int64(Date().timeIntervalSince1970) })
        return try await body(OfflineSession(logger: logger, engine: engine, state: state, core: core))
    }
}
