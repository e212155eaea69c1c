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

    /// The body, written field by field: its shape is fixed and its strings are ours.
    var body: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(accessToken.utf8.count + (idToken?.utf8.count ?? 0) + 128)
        out.append(UInt8(ascii: "{"))
        field("access_token", accessToken, &out)
        if let issuedTokenType { field("issued_token_type", issuedTokenType, &out) }
        field("token_type", tokenType, &out)
        out.append(UInt8(ascii: ",")); JSONText.appendKey("expires_in", to: &out)
        out.append(contentsOf: String(expiresIn).utf8)
        if !scope.isEmpty { field("scope", scope.joined(separator: " "), &out) }
        if let idToken { field("id_token", idToken, &out) }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private func field(_ key: String, _ value: String, _ out: inout [UInt8]) {
        if out.count > 1 { out.append(UInt8(ascii: ",")) }
        JSONText.appendKey(key, to: &out)
        JSONText.appendString(value, to: &out)
    }
}
