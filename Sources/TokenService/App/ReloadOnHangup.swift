import Logging
import Pipeline
import ServiceLifecycle
import UnixSignals

/// SIGHUP: reload config, keys and pipelines (and the listeners' TLS certificate and key); swap only
/// when everything validates. Settings read only at start (`listen.*`, `runtime.*`, `shared_state`) keep
/// their running values; a reload that changes one says so.
struct ReloadOnHangup: Service {
    let path: String
    let holder: StateHolder
    let engine: PipelineEngine
    let tls: ServerTLS?
    let metrics: ServiceMetrics
    let logger: Logger
    let environment: [String: String]

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            await reload()
        }
    }

    func reload() async {
        let fresh: ServiceState
        do { fresh = try await ServiceState.load(path: path, engine: engine, environment: environment) } catch {
            logger.error("reload failed; keeping the previous configuration",
                         metadata: ["path": "\(path)", "problems": "\(error.problems.joined(separator: "; "))"])
            return
        }
        if let tls {
            do { try tls.reload() } catch {
                logger.error("reload failed; keeping the previous configuration", metadata: ["path": "\(path)", "problems": "\(error)"])
                return
            }
        }
        for setting in Self.startOnlyChanges(from: holder.current.config, to: fresh.config) {
            logger.warning("a reload does not apply this setting; restart to change it", metadata: ["setting": "\(setting)"])
        }
        holder.replace(with: fresh)
        metrics.configLoaded(digest: fresh.configDigest, signingKid: fresh.config.signingKey)
        logger.info("configuration reloaded", metadata: ["path": "\(path)", "config_sha256": "\(fresh.configDigest)"])
    }

    /// The start-only settings that differ between two configurations.
    static func startOnlyChanges(from old: ServiceConfig, to new: ServiceConfig) -> [String] {
        var changed: [String] = []
        let (a, b) = (old.listen, new.listen)
        if a.host != b.host || a.port != b.port { changed.append("listen.host/listen.port") }
        if a.idleTimeoutSeconds != b.idleTimeoutSeconds { changed.append("listen.idle_timeout_seconds") }
        if a.headerTimeoutSeconds != b.headerTimeoutSeconds { changed.append("listen.header_timeout_seconds") }
        if a.maxConnections != b.maxConnections { changed.append("listen.max_connections") }
        if a.trustedProxies != b.trustedProxies { changed.append("listen.trusted_proxies") }
        if a.admin != b.admin { changed.append("listen.admin") }
        if a.tls != b.tls { changed.append("listen.tls") }
        if old.runtime != new.runtime { changed.append("runtime") }
        if old.sharedState != new.sharedState { changed.append("shared_state") }
        return changed
    }
}
