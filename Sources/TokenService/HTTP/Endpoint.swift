import NIOHTTP1

/// Every endpoint of the HTTP API, once: the router, the 405 answer, body limits, metrics labels,
/// discovery and the OpenAPI check all read this table.
enum Endpoint: String, CaseIterable, Sendable {
    case token = "/oauth/token"
    case mint = "/v1/tokens"
    case introspect = "/oauth/introspect"
    case discovery = "/.well-known/openid-configuration"
    case jwks = "/.well-known/jwks.json"
    case health = "/healthz"
    case metrics = "/metrics"

    var path: String { rawValue }

    var method: HTTPMethod {
        switch self {
        case .token, .mint, .introspect: return .POST
        case .discovery, .jwks, .health, .metrics: return .GET
        }
    }

    /// The largest request body the endpoint reads; a larger one is answered 413 before it is read in full.
    var bodyLimit: Int {
        switch self {
        case .token, .introspect: return 64 * 1024
        case .mint: return 256 * 1024
        case .discovery, .jwks, .health, .metrics: return Self.otherBodyLimit
        }
    }

    /// Bodies of requests for no endpoint (answered 404) or a GET endpoint are read up to this and ignored.
    static let otherBodyLimit = 16 * 1024

    /// The absolute URL of the endpoint under `issuer`.
    func url(_ issuer: String) -> String { issuer + path }

    static let byPath: [String: Endpoint] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.path, $0) })
}
