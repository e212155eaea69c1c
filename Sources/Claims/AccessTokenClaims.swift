public import JSONCore

/// RFC 9068 JWT access token claims (§2.2), plus extension claims from the pre-access-token hook.
public struct AccessTokenClaims: Sendable, Equatable {
    /// The JWS `typ` of an access token (RFC 9068 §2.1).
    public static let type = "at+jwt"

    /// Whether a JWS header's `typ` says access token: `at+jwt` or `application/at+jwt`, case-insensitively
    /// (RFC 9068 §4; RFC 8725 §3.11: how an access token is told from an ID token signed by the same keys).
    public static func isAccessTokenType(_ typ: JSONValue?) -> Bool {
        guard let t = typ?.stringValue?.lowercased() else { return false }
        return t == type || t == "application/" + type
    }

    public var issuer: String
    public var subject: String
    public var audience: [String]
    public var clientID: String
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var jwtID: String
    public var scope: [String]
    /// Optional OIDC-session claims copied into user access tokens (RFC 9068 §2.2.1).
    public var authTime: Int64?
    public var acr: String?
    public var amr: [String]?
    /// RFC 7800 confirmation: `{"jkt": …}` for DPoP-bound tokens (RFC 9449 §6).
    public var confirmation: JSONObject?
    /// RFC 8693 §4.1 actor: who acts for the subject (nested for chains of delegation).
    public var actor: JSONValue?
    public var extensions: JSONObject

    public init(issuer: String, subject: String, audience: [String], clientID: String, issuedAt: Int64,
                expiresAt: Int64, jwtID: String, scope: [String], authTime: Int64? = nil, acr: String? = nil,
                amr: [String]? = nil, extensions: JSONObject = JSONObject()) {
        self.issuer = issuer; self.subject = subject; self.audience = audience; self.clientID = clientID
        self.issuedAt = issuedAt; self.expiresAt = expiresAt; self.jwtID = jwtID; self.scope = scope
        self.authTime = authTime; self.acr = acr; self.amr = amr; self.extensions = extensions
    }

    /// The payload: registered claims first in a fixed order, then extensions (which can never
    /// shadow a registered claim: `ClaimExtensions` refuses those names).
    public var payload: JSONObject {
        var o = JSONObject()
        o.appendNew("iss", .string(issuer))
        o.appendNew("sub", .string(subject))
        o.appendNew("aud", audience.count == 1 ? .string(audience[0]) : .array(audience.map { .string($0) }))
        o.appendNew("client_id", .string(clientID))
        o.appendNew("iat", .int(issuedAt))
        o.appendNew("exp", .int(expiresAt))
        o.appendNew("jti", .string(jwtID))
        if !scope.isEmpty { o.appendNew("scope", .string(scope.joined(separator: " "))) }
        if let authTime { o.appendNew("auth_time", .int(authTime)) }
        if let acr { o.appendNew("acr", .string(acr)) }
        if let amr { o.appendNew("amr", .array(amr.map { .string($0) })) }
        if let confirmation { o.appendNew("cnf", .object(confirmation)) }
        if let actor { o.appendNew("act", actor) }
        for (k, v) in extensions where !RegisteredClaims.contains(k) { o.appendNew(k, v) }
        return o
    }
}
