public import JSONCore

/// OpenID Connect Core §2 ID token claims, the §5.4 standard claims released by scope, and
/// extension claims from the pre-ID-token hook.
public struct IDTokenClaims: Sendable, Equatable {
    public var issuer: String
    public var subject: String
    public var audience: String
    public var authorizedParty: String?
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var authTime: Int64?
    public var nonce: String?
    public var acr: String?
    public var amr: [String]?
    public var accessTokenHash: String?
    public var codeHash: String?
    /// Standard claims (profile, email, phone, address) in the order `StandardClaims` produced them.
    public var standard: JSONObject
    public var extensions: JSONObject

    public init(issuer: String, subject: String, audience: String, authorizedParty: String?, issuedAt: Int64,
                expiresAt: Int64, authTime: Int64? = nil, nonce: String? = nil, acr: String? = nil, amr: [String]? = nil,
                accessTokenHash: String? = nil, codeHash: String? = nil, standard: JSONObject = JSONObject(),
                extensions: JSONObject = JSONObject()) {
        self.issuer = issuer; self.subject = subject; self.audience = audience; self.authorizedParty = authorizedParty
        self.issuedAt = issuedAt; self.expiresAt = expiresAt; self.authTime = authTime; self.nonce = nonce
        self.acr = acr; self.amr = amr; self.accessTokenHash = accessTokenHash; self.codeHash = codeHash
        self.standard = standard; self.extensions = extensions
    }

    public var payload: JSONObject {
        var o = JSONObject()
        o.appendNew("iss", .string(issuer))
        o.appendNew("sub", .string(subject))
        o.appendNew("aud", .string(audience))
        if let authorizedParty { o.appendNew("azp", .string(authorizedParty)) }
        o.appendNew("iat", .int(issuedAt))
        o.appendNew("exp", .int(expiresAt))
        if let authTime { o.appendNew("auth_time", .int(authTime)) }
        if let nonce { o.appendNew("nonce", .string(nonce)) }
        if let acr { o.appendNew("acr", .string(acr)) }
        if let amr { o.appendNew("amr", .array(amr.map { .string($0) })) }
        if let accessTokenHash { o.appendNew("at_hash", .string(accessTokenHash)) }
        if let codeHash { o.appendNew("c_hash", .string(codeHash)) }
        var rest = standard
        for (k, v) in extensions { rest[k] = v }
        for (k, v) in rest where !RegisteredClaims.contains(k) { o.appendNew(k, v) }
        return o
    }
}
