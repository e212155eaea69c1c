import Logging
import Pipeline
import ServiceLifecycle
import UnixSignals

/// SIGHUP: reload config, keys and pipelines; swap only when everything validates.
struct ReloadOnHangup: Service {
    let path: String
    let holder: StateHolder
    let engine: PipelineEngine
    let logger: Logger
    let environment: [String: String]

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                holder.replace(with: try await ServiceState.load(path: path, engine: engine, environment: environment))
                logger.info("configuration reloaded", metadata: ["path": "\(path)"])
            } catch {
                logger.error("reload failed; keeping the previous configuration",
                             metadata: ["path": "\(path)", "problems": "\(error.problems.joined(separator: "; "))"])
            }
        }
    }
}
