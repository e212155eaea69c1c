import JSONCore
import NIOHTTP1

/// The one place a `TokenError` becomes HTTP: status, headers and the RFC 6749 §5.2 JSON body (never
/// cached). The edge answers with it; the CLI prints the same body and status.
extension TokenError {
    var status: HTTPResponseStatus {
        switch kind {
        case .invalidRequest, .invalidScope, .invalidTarget, .invalidGrant, .unauthorizedClient, .unsupportedGrantType, .invalidDPoPProof,
             .unknownClient:
            return .badRequest
        case .invalidClient, .invalidToken: return .unauthorized
        case .accessDenied: return .forbidden
        case .bodyTooLarge: return .payloadTooLarge
        case .methodNotAllowed: return .methodNotAllowed
        case .tooManyRequests: return .tooManyRequests
        case .serverError: return .internalServerError
        case .temporarilyUnavailable: return .serviceUnavailable
        }
    }

    var headers: HTTPHeaders {
        switch kind {
        case .invalidClient(basic: true): return ["WWW-Authenticate": #"Basic realm="tokenservice", charset="UTF-8""#]
        case .invalidToken: return ["WWW-Authenticate": #"Bearer realm="tokenservice""#]
        case .temporarilyUnavailable(let seconds), .tooManyRequests(let seconds): return ["Retry-After": String(max(1, seconds))]
        case .methodNotAllowed(let allow): return ["Allow": allow]
        default: return [:]
        }
    }

    /// `{"error", "error_description"}`.
    var body: [UInt8] {
        JSON.serialize(.object(JSONObject([("error", .string(code)), ("error_description", .string(errorDescription))])))
    }

    var response: EdgeResponse {
        var fields = EdgeResponse.noStoreJSON
        fields.add(contentsOf: headers)
        return EdgeResponse(status: status, headers: fields, body: body)
    }
}
