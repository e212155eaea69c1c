import HTTPTypes
import Hummingbird
import JSONCore
import NIOCore

/// The one place a `TokenError` becomes HTTP: status, headers and the RFC 6749 §5.2 JSON body (never
/// cached). The router answers with it; the CLI prints the same body and status.
extension TokenError: HTTPResponseError {
    var status: HTTPResponse.Status {
        switch kind {
        case .invalidRequest, .invalidScope, .invalidTarget, .invalidGrant, .unauthorizedClient, .unsupportedGrantType, .invalidDPoPProof,
             .unknownClient:
            return .badRequest
        case .invalidClient, .invalidToken: return .unauthorized
        case .accessDenied: return .forbidden
        case .bodyTooLarge: return .contentTooLarge
        case .methodNotAllowed: return .methodNotAllowed
        case .tooManyRequests: return .tooManyRequests
        case .serverError: return .internalServerError
        case .temporarilyUnavailable: return .serviceUnavailable
        }
    }

    var headers: HTTPFields {
        switch kind {
        case .invalidClient(basic: true): return [.wwwAuthenticate: #"Basic realm="tokenservice", charset="UTF-8""#]
        case .invalidToken: return [.wwwAuthenticate: #"Bearer realm="tokenservice""#]
        case .temporarilyUnavailable(let seconds), .tooManyRequests(let seconds): return [.retryAfter: String(max(1, seconds))]
        case .methodNotAllowed(let allow): return [.allow: allow]
        default: return [:]
        }
    }

    /// `{"error", "error_description"}`.
    var body: [UInt8] {
        JSON.serialize(.object(JSONObject([("error", .string(code)), ("error_description", .string(errorDescription))])))
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = HTTPFields.noStoreJSON
        fields.append(contentsOf: headers)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
