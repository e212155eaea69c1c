public import Claims
public import JSONCore

/// A verified RFC 9068 access token: the claims, and what backends ask of them.
public struct VerifiedAccessToken: Sendable {
    public let claims: JSONObject
    public let header: JSONObject
    public var subject: String { claims["sub"]?.stringValue ?? "" }
    public var clientID: String? { claims["client_id"]?.stringValue }
    public var scopes: Set<String> { Set((claims["scope"]?.stringValue ?? "").split(separator: " ").map(String.init)) }
    /// The DPoP key thumbprint the token is bound to (RFC 9449 `cnf.jkt`): a DPoP-aware backend checks the
    /// request's proof against it; a token bound this way must not be accepted as a plain bearer token.
    public var dpopThumbprint: String? { claims["cnf"]?.objectValue?["jkt"]?.stringValue }
}

/// Verifies access tokens of one issuer offline: the signature by a key from its JWKS (the key pins the
/// algorithm: a token cannot choose a weaker one, `none` never verifies), `typ: at+jwt` required (RFC 9068
/// §4, RFC 8725 §3.11: an ID token or a Txn-Token is refused), then `iss`, `aud`, `exp` and `nbf` with `leeway`.
public struct AccessTokenVerifier: Sendable {
    public typealias Failure = TokenVerificationFailure

    public let issuer: String
    public let audiences: Set<String>
    public let leeway: Int64
    public let keys: JWKSCache

    public init(issuer: String, audiences: Set<String>, keys: JWKSCache, leeway: Int64 = ClaimValidator.defaultLeeway) {
        self.issuer = issuer
        self.audiences = audiences
        self.keys = keys
        self.leeway = leeway
    }

    public func verify(_ token: String, now: Int64) async throws(Failure) -> VerifiedAccessToken {
        let verified = try await SignedToken.verify(token, keys: keys, type: "at+jwt", typeCheck: AccessTokenClaims.isAccessTokenType)
        do {
            try ClaimValidator.token(issuer: issuer, audiences: audiences, leeway: leeway).validate(verified.claims, now: now)
        } catch { throw .claims(error.reason) }
        return VerifiedAccessToken(claims: verified.claims, header: verified.header)
    }
}
