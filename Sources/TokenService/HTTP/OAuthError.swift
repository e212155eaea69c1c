import OAuthWire
import Claims
import HTTPTypes
import Hummingbird
import JSONCore
import NIOCore

/// An RFC 6749 §5.2 error response: `{"error", "error_description"}` as JSON, never cached.
struct OAuthError: Error, HTTPResponseError, Equatable {
    var status: HTTPResponse.Status
    var code: String
    var errorDescription: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: String, _ description: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.errorDescription = OAuthSyntax.sanitizedDescription(description)
        self.headers = headers
    }

    static func invalidRequest(_ d: String) -> OAuthError { .init(.badRequest, "invalid_request", d) }
    static func invalidScope(_ d: String) -> OAuthError { .init(.badRequest, "invalid_scope", d) }
    static func unauthorizedClient(_ d: String) -> OAuthError { .init(.badRequest, "unauthorized_client", d) }
    static func unsupportedGrantType(_ d: String) -> OAuthError { .init(.badRequest, "unsupported_grant_type", d) }
    static func invalidTarget(_ d: String) -> OAuthError { .init(.badRequest, "invalid_target", d) }
    static func accessDenied(_ d: String) -> OAuthError { .init(.forbidden, "access_denied", d) }
    static func serverError(_ d: String) -> OAuthError { .init(.internalServerError, "server_error", d) }
    static func invalidGrant(_ d: String) -> OAuthError { .init(.badRequest, "invalid_grant", d) }
    static func invalidDPoPProof(_ d: String) -> OAuthError { .init(.badRequest, "invalid_dpop_proof", d) }
    /// A check that must not be skipped (one-time memory) cannot be made now: fail closed.
    static func temporarilyUnavailable(_ d: String, retryAfter: Int = 5) -> OAuthError {
        .init(.serviceUnavailable, "temporarily_unavailable", d, headers: [.retryAfter: String(retryAfter)])
    }
    static func tooManyRequests(_ d: String, retryAfter: Int64) -> OAuthError {
        .init(.tooManyRequests, "too_many_requests", d, headers: [.retryAfter: String(max(1, retryAfter))])
    }
    /// One body for every client-authentication failure, so unknown clients and wrong secrets look alike.
    static func invalidClient(basic: Bool) -> OAuthError {
        .init(.unauthorized, "invalid_client", "client authentication failed",
              headers: basic ? [.wwwAuthenticate: #"Basic realm="tokenservice", charset="UTF-8""#] : [:])
    }

    var body: [UInt8] {
        JSON.serialize(.object(JSONObject([("error", .string(code)), ("error_description", .string(errorDescription))])))
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = HTTPFields.noStoreJSON
        fields.append(contentsOf: headers)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPField.Name {
    static let pragma = HTTPField.Name("Pragma")!
    static let dpop = HTTPField.Name(DPoPProof.headerName)!
}

extension HTTPFields {
    /// Content-Type JSON with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
    static let noStoreJSON: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store", .pragma: "no-cache"]
}
