import Claims
import JSONCore

/// A token this service issued (`KeyRing.verifyIssued`), with what the policies of introspection and
/// token exchange ask of it.
struct IssuedToken: Sendable {
    let header: JSONObject
    let claims: JSONObject

    /// An RFC 9068 access token (`typ: at+jwt`); otherwise an ID token.
    var isAccessToken: Bool { AccessTokenClaims.isAccessTokenType(header["typ"]) }
    var subject: String { claims["sub"]?.stringValue ?? "" }
    /// `exp`: present and bounded, since `verifyIssued` checked it.
    var expiresAt: Int64 { claims["exp"].flatMap(NumericDate.seconds) ?? 0 }
    var scopes: [String] { (claims["scope"]?.stringValue ?? "").split(separator: " ").map(String.init) }
    /// The DPoP key the token is bound to (`cnf.jkt`).
    var dpopThumbprint: String? { claims["cnf"]?.objectValue?["jkt"]?.stringValue }
    /// The client it was issued to: `client_id` of an access token, `azp` (else the single `aud`) of an ID token.
    var issuedTo: String? {
        if let c = claims["client_id"]?.stringValue { return c }
        if let azp = claims["azp"]?.stringValue { return azp }
        return isAccessToken ? nil : claims["aud"]?.stringValue
    }
    /// How many `act` levels the token carries (RFC 8693 §4.1 nesting).
    var actorDepth: Int {
        var depth = 0
        var act = claims["act"]?.objectValue
        while let a = act { depth += 1; act = a["act"]?.objectValue }
        return depth
    }

    /// The token's `aud` contains one of `audiences`.
    func isAudience(_ audiences: Set<String>) -> Bool { AudienceCheck.matches(claims["aud"], audiences) }
}
