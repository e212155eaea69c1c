public import Claims
public import JOSE
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
/// §4, RFC 8725 §3.11: an ID token is refused), then `iss`, `aud`, `exp` and `nbf` with `leeway`.
public struct AccessTokenVerifier: Sendable {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed(String)
        case unknownKey
        case signature
        case notAnAccessToken
        case claims(String)
        case jwksUnavailable
        public var description: String {
            switch self {
            case .malformed(let s): return "malformed token: \(s)"
            case .unknownKey: return "signed by a key the issuer does not publish"
            case .signature: return "the signature does not verify"
            case .notAnAccessToken: return "not an access token (typ must be at+jwt)"
            case .claims(let s): return s
            case .jwksUnavailable: return "the issuer's keys cannot be fetched"
            }
        }
    }

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
        guard let jws = try? CompactJWS(token) else { throw .malformed("not a compact JWS") }
        let header = jws.header
        guard let kid = header["kid"]?.stringValue else { throw .malformed("no kid") }
        guard AccessTokenClaims.isAccessTokenType(header["typ"]) else { throw .notAnAccessToken }
        let key: JWSKey?
        do { key = try await keys.key(kid) } catch { throw .jwksUnavailable }
        guard let key else { throw .unknownKey }
        let verified: VerifiedJWS
        do { verified = try JWSVerifier(keys: KeySet([key])).verify(jws) } catch { throw .signature }
        do {
            try ClaimValidator.token(issuer: issuer, audiences: audiences, leeway: leeway).validate(verified.claims, now: now)
        } catch { throw .claims(error.reason) }
        return VerifiedAccessToken(claims: verified.claims, header: verified.header)
    }
}
