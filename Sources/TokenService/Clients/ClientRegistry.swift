import JOSE

/// A configured client with its verification keys (private_key_jwt) prepared once per load.
struct RegisteredClient: Sendable {
    let config: ServiceConfig.Client
    let assertionKeys: KeySet?
    var id: String { config.clientID }
    /// What pipelines see as `context.appName`.
    var displayName: String { config.name ?? config.clientID }
}

struct ClientRegistry: Sendable {
    private let byID: [String: RegisteredClient]

    init(config: ServiceConfig) throws(ConfigError) {
        var map: [String: RegisteredClient] = [:]
        var problems: [String] = []
        for client in config.clients {
            var keys: KeySet?
            if case .jwks(let jwks) = client.credential {
                var loaded: [JWSKey] = []
                for jwk in jwks.keys {
                    do { loaded.append(try JWSKey(jwk: jwk)) } catch { problems.append("client \(client.clientID): jwks: \(error)") }
                }
                if loaded.isEmpty && client.grantTypes.contains(.clientCredentials) {
                    problems.append("client \(client.clientID): jwks has no usable key, so private_key_jwt can never succeed")
                }
                keys = KeySet(loaded)
            }
            map[client.clientID] = RegisteredClient(config: client, assertionKeys: keys)
        }
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        byID = map
    }

    subscript(id: String) -> RegisteredClient? { byID[id] }
}
