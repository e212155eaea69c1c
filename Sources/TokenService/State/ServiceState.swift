import Claims
import Foundation
import JOSE
import JSONCore
import Logging
import Pipeline
import Synchronization

/// Everything derived from one configuration load: keys, clients, gateway credentials, compiled
/// pipelines and the static documents. Immutable; a reload builds a new one and swaps it in whole.
final class ServiceState: Sendable {
    let config: ServiceConfig
    let keys: KeyRing
    let clients: ClientRegistry
    let gatewayTokenDigests: [[UInt8]]
    let pipelines: [PipelineTrigger: CompiledPipeline]
    let discoveryJSON: [UInt8]
    /// The default signing key produced a signature when this state was built (what /healthz reports).
    let canSign: Bool
    /// `/healthz`'s body when healthy: status, the config's digest and the signing key's `kid`.
    let healthyJSON: [UInt8]

    var tokenEndpoint: String { Endpoint.token.url(config.issuer) }
    var configDigest: String { config.configDigest }
    /// The token endpoint as DPoP proofs' `htu` is compared with it.
    let dpopTokenEndpoint: String?
    /// What a client assertion's `aud` may name (RFC 7523 §3): the token endpoint or the issuer.
    let assertionAudiences: Set<String>
    /// The same at the introspection endpoint, which it may also name.
    let introspectionAssertionAudiences: Set<String>

    init(config: ServiceConfig, pipelines: [PipelineTrigger: CompiledPipeline]) throws(ConfigError) {
        var problems: [String] = []
        var keys: KeyRing?
        var clients: ClientRegistry?
        do { keys = try KeyRing(config: config) } catch { problems += error.problems }
        do { clients = try ClientRegistry(config: config) } catch { problems += error.problems }
        guard let keys, let clients, problems.isEmpty else { throw ConfigError(problems: problems) }
        self.config = config
        self.keys = keys
        self.clients = clients
        var digests: [[UInt8]] = []
        for gateway in config.gateways {
            guard let digest = try? Digest.hash(.sha256, gateway.token) else { throw ConfigError(problems: ["gateway \(gateway.name): the token could not be hashed (OpenSSL)"]) }
            digests.append(digest)
        }
        self.gatewayTokenDigests = digests
        self.pipelines = pipelines
        self.discoveryJSON = JSON.serialize(.object(Discovery.document(config: config, keys: keys)))
        let tokenEndpoint = Endpoint.token.url(config.issuer)
        self.dpopTokenEndpoint = DPoPProof.normalize(tokenEndpoint)
        self.assertionAudiences = [tokenEndpoint, config.issuer]
        self.introspectionAssertionAudiences = assertionAudiences.union([Endpoint.introspect.url(config.issuer)])
        self.canSign = keys.signers(for: nil).map { (try? $0.key.sign(Array("self-test".utf8))) != nil } ?? false
        self.healthyJSON = JSON.serialize(.object(Self.health(status: "ok", config: config)))
    }

    /// `/healthz`'s members: status, what this replica loaded, and anything else to say.
    static func health(status: String, config: ServiceConfig, extra: [(String, JSONValue)] = []) -> JSONObject {
        JSONObject([("status", .string(status)), ("config_sha256", .string(config.configDigest)), ("signing_kid", .string(config.signingKey))]
                   + extra)
    }

    /// Reads the config at `path`, loads keys and compiles pipelines. Every problem is reported.
    static func load(path: String, engine: PipelineEngine?, environment: [String: String] = ProcessInfo.processInfo.environment)
        async throws(ConfigError) -> ServiceState
    {
        try await load(config: try ConfigLoader.load(path: path, environment: environment), engine: engine)
    }

    /// Loads keys and compiles pipelines of a parsed config. Every problem is reported.
    static func load(config: ServiceConfig, engine: PipelineEngine?) async throws(ConfigError) -> ServiceState {
        var problems: [String] = []
        var compiled: [PipelineTrigger: CompiledPipeline] = [:]
        for (trigger, functions) in config.pipelines.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            var specs: [PipelineFunctionSpec] = []
            for fn in functions {
                guard let data = FileManager.default.contents(atPath: fn.file), let source = String(data: data, encoding: .utf8) else {
                    problems.append("pipeline \(trigger.rawValue)/\(fn.name): cannot read \(fn.file)")
                    continue
                }
                specs.append(PipelineFunctionSpec(name: fn.name, source: source, settings: fn.settings))
            }
            if specs.contains(where: \.enabled) {
                guard let engine else {
                    problems.append("pipeline \(trigger.rawValue): no pipeline engine available")
                    continue
                }
                do { compiled[trigger] = try await engine.prepare(specs, trigger: trigger, env: config.env, outbound: config.pipelineHTTP) } catch {
                    problems += error.problems
                }
            }
        }
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        return try ServiceState(config: config, pipelines: compiled)
    }

    func gatewayAuthorized(_ token: String) -> Bool {
        guard let presented = try? Digest.hash(.sha256, Array(token.utf8)) else { return false }
        var ok = false
        for digest in gatewayTokenDigests where constantTimeEquals(digest, presented) { ok = true }
        return ok
    }
}

/// Holds the current state; SIGHUP replaces it atomically (requests in flight keep the one they read).
final class StateHolder: Sendable {
    private let state: Mutex<ServiceState>
    init(_ initial: ServiceState) { state = Mutex(initial) }
    var current: ServiceState { state.withLock { $0 } }
    func replace(with new: ServiceState) { state.withLock { $0 = new } }
}
