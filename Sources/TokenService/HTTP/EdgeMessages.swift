import NIOCore
import NIOHTTP1

/// A complete request as the edge hands it to the service: its body read in full (within its endpoint's
/// limit) and the client address it came from.
struct EdgeRequest: Sendable {
    var method: HTTPMethod
    /// The request target's path, without the query.
    var path: String
    var headers: HTTPHeaders
    var body: ByteBuffer
    var remoteIP: String

    /// The first value of a header, by case-insensitive name.
    func header(_ name: String) -> String? { headers.first(name: name) }
}

/// What the service answers. The edge adds the framing headers (`Content-Length`, `Connection`) and
/// `X-Request-Id`.
struct EdgeResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: [UInt8]

    init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1), or the given
    /// cache policy.
    static func json(_ body: [UInt8], status: HTTPResponseStatus = .ok, cache: String? = nil) -> EdgeResponse {
        EdgeResponse(status: status, headers: cache.map { ["Content-Type": "application/json", "Cache-Control": $0] } ?? noStoreJSON, body: body)
    }

    static let noStoreJSON: HTTPHeaders = ["Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"]
}

/// What the edge asks of the service: the answer to a complete request — at once when nothing needs
/// waiting for, or the work that produces it when something does (a pipeline, Redis, an outbound call).
/// Never throws: errors are answers too, mapped to HTTP in one place (`TokenError+HTTP`).
protocol EdgeResponder: Sendable {
    func answer(_ request: EdgeRequest, scope: RequestScope) -> EdgeAnswer
}

enum EdgeAnswer: Sendable {
    case now(EdgeResponse)
    case later(@Sendable () async -> EdgeResponse)
}
