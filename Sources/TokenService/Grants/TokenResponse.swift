import JSONCore

/// The RFC 6749 §5.1 success body (RFC 8693 §2.2.1 adds `issued_token_type`; RFC 9449 §5 `token_type: DPoP`).
struct TokenResponse: Sendable, Equatable {
    var accessToken: String
    var expiresIn: Int
    var scope: [String]
    var idToken: String?
    static let bearer = "Bearer"
    /// `Bearer`, `DPoP` for a token bound to a DPoP key, `N_A` for a token that is not an access token
    /// (RFC 8693 §2.2.1).
    var tokenType = bearer
    var issuedTokenType: String?

    var json: JSONObject {
        var o = JSONObject()
        o.appendNew("access_token", .string(accessToken))
        if let issuedTokenType { o.appendNew("issued_token_type", .string(issuedTokenType)) }
        o.appendNew("token_type", .string(tokenType))
        o.appendNew("expires_in", .int(Int64(expiresIn)))
        if !scope.isEmpty { o.appendNew("scope", .string(scope.joined(separator: " "))) }
        if let idToken { o.appendNew("id_token", .string(idToken)) }
        return o
    }
}
