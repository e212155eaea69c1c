import HTTPTypes

/// Every endpoint of the HTTP API, once: the router, the 405 middleware, metrics labels, discovery and
/// the OpenAPI check all read this table.
enum Endpoint: String, CaseIterable, Sendable {
    case token = "/oauth/token"
    case mint = "/v1/tokens"
    case introspect = "/oauth/introspect"
    case discovery = "/.well-known/openid-configuration"
    case jwks = "/.well-known/jwks.json"
    case health = "/healthz"
    case metrics = "/metrics"

    var path: String { rawValue }

    var method: HTTPRequest.Method {
        switch self {
        case .token, .mint, .introspect: return .post
        case .discovery, .jwks, .health, .metrics: return .get
        }
    }

    /// The absolute URL of the endpoint under `issuer`.
    func url(_ issuer: String) -> String { issuer + path }

    static let byPath: [String: Endpoint] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.path, $0) })
}
