import HTTPTypes
import Hummingbird
import NIOCore

/// Counts requests and latency per endpoint and status.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = TokenRequestContext
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let endpoint = Self.endpoint(request.uri.path)
        do {
            let response = try await next(request, context)
            metrics.request(endpoint: endpoint, status: response.status.code, duration: ContinuousClock.now - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(endpoint: endpoint, status: status, duration: ContinuousClock.now - start)
            throw error
        }
    }

    /// Known paths by name, everything else as "other" (keeps label cardinality bounded).
    static func endpoint(_ path: String) -> String { Endpoint.byPath[path]?.path ?? "other" }
}

/// 405 with `Allow` for a known path called with another method (RFC 9110 §15.5.6).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = TokenRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let method = Endpoint.byPath[request.uri.path]?.method, request.method != method, !(method == .get && request.method == .head) {
            throw TokenError(.methodNotAllowed(allow: method.rawValue), "use \(method.rawValue) for this endpoint")
        }
        return try await next(request, context)
    }
}
