import JSONCore

/// The RFC 6749 §5.1 success body.
struct TokenResponse: Sendable, Equatable {
    var accessToken: String
    var expiresIn: Int
    var scope: [String]
    var idToken: String?

    var json: JSONObject {
        var o = JSONObject()
        o.appendNew("access_token", .string(accessToken))
        o.appendNew("token_type", "Bearer")
        o.appendNew("expires_in", .int(Int64(expiresIn)))
        if !scope.isEmpty { o.appendNew("scope", .string(scope.joined(separator: " "))) }
        if let idToken { o.appendNew("id_token", .string(idToken)) }
        return o
    }
}
