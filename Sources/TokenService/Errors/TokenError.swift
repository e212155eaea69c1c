import OAuthWire

/// Why a request is refused or failed, in RFC 6749 §5.2 terms — thrown by grants, client authentication,
/// DPoP, the gateway mint and the edge alike. It names no HTTP type: the status and headers it becomes are
/// decided in one place (`TokenError+HTTP.swift`), for the router and the CLI.
struct TokenError: Error, Equatable, CustomStringConvertible {
    enum Kind: Equatable, Sendable {
        case invalidRequest
        case invalidScope
        case invalidTarget
        case invalidGrant
        case unauthorizedClient
        case unsupportedGrantType
        case invalidDPoPProof
        /// Client authentication failed (one answer for unknown clients and wrong secrets); `basic`: it was
        /// attempted with HTTP Basic, so the answer challenges for it.
        case invalidClient(basic: Bool)
        /// The gateway named a client that does not exist (the gateway is authenticated; the client is data).
        case unknownClient
        /// The gateway's own credential is wrong.
        case invalidToken
        case accessDenied
        case serverError
        /// A check that must not be skipped (one-time memory) cannot be made now: fail closed.
        case temporarilyUnavailable(retryAfter: Int64)
        case tooManyRequests(retryAfter: Int64)
        case bodyTooLarge
        case methodNotAllowed(allow: String)
    }

    let kind: Kind
    /// RFC 6749 §5.2 `error_description`: only the characters it allows, never a secret.
    let errorDescription: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        errorDescription = OAuthSyntax.sanitizedDescription(description)
    }

    /// The RFC 6749 (and RFC 9449, RFC 6750) `error` code.
    var code: String {
        switch kind {
        case .invalidRequest, .bodyTooLarge, .methodNotAllowed: return "invalid_request"
        case .invalidScope: return "invalid_scope"
        case .invalidTarget: return "invalid_target"
        case .invalidGrant: return "invalid_grant"
        case .unauthorizedClient: return "unauthorized_client"
        case .unsupportedGrantType: return "unsupported_grant_type"
        case .invalidDPoPProof: return "invalid_dpop_proof"
        case .invalidClient, .unknownClient: return "invalid_client"
        case .invalidToken: return "invalid_token"
        case .accessDenied: return "access_denied"
        case .serverError: return "server_error"
        case .temporarilyUnavailable: return "temporarily_unavailable"
        case .tooManyRequests: return "too_many_requests"
        }
    }

    var description: String { code + ": " + errorDescription }

    /// Client authentication failed (counted by the abuse limits).
    var isClientAuthenticationFailure: Bool {
        if case .invalidClient = kind { return true }
        return false
    }

    static func invalidRequest(_ d: String) -> TokenError { .init(.invalidRequest, d) }
    static func invalidScope(_ d: String) -> TokenError { .init(.invalidScope, d) }
    static func unauthorizedClient(_ d: String) -> TokenError { .init(.unauthorizedClient, d) }
    static func unsupportedGrantType(_ d: String) -> TokenError { .init(.unsupportedGrantType, d) }
    static func invalidTarget(_ d: String) -> TokenError { .init(.invalidTarget, d) }
    static func accessDenied(_ d: String) -> TokenError { .init(.accessDenied, d) }
    static func serverError(_ d: String) -> TokenError { .init(.serverError, d) }
    static func invalidGrant(_ d: String) -> TokenError { .init(.invalidGrant, d) }
    static func invalidDPoPProof(_ d: String) -> TokenError { .init(.invalidDPoPProof, d) }
    static func temporarilyUnavailable(_ d: String, retryAfter: Int64 = 5) -> TokenError { .init(.temporarilyUnavailable(retryAfter: retryAfter), d) }
    static func tooManyRequests(_ d: String, retryAfter: Int64) -> TokenError { .init(.tooManyRequests(retryAfter: retryAfter), d) }
    /// One body for every client-authentication failure, so unknown clients and wrong secrets look alike.
    static func invalidClient(basic: Bool) -> TokenError { .init(.invalidClient(basic: basic), "client authentication failed") }
}
