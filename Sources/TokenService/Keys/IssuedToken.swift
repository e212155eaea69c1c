import Claims
import JSONCore

/// A token this service issued (`KeyRing.verifyIssued`), with what the policies of introspection and
/// token exchange ask of it.
struct IssuedToken: Sendable {
    /// What the JWS `typ` says the token is (RFC 8725 §3.11: each kind is told apart by it).
    enum Kind: Sendable, Equatable {
        /// RFC 9068 (`at+jwt`).
        case accessToken
        /// OpenID Connect (`JWT`).
        case idToken
        /// draft-ietf-oauth-transaction-tokens (`txntoken+jwt`).
        case transactionToken

        init?(typ: JSONValue?) {
            if AccessTokenClaims.isAccessTokenType(typ) { self = .accessToken }
            else if TransactionTokenClaims.isTransactionTokenType(typ) { self = .transactionToken }
            else if typ?.stringValue?.uppercased() == "JWT" { self = .idToken }
            else { return nil }
        }
    }

    let header: JSONObject
    let claims: JSONObject
    let kind: Kind

    var isAccessToken: Bool { kind == .accessToken }
    var subject: String { claims["sub"]?.stringValue ?? "" }
    /// `exp`: present and bounded, since `verifyIssued` checked it.
    var expiresAt: Int64 { claims["exp"].flatMap(NumericDate.seconds) ?? 0 }
    var scopes: [String] { (claims["scope"]?.stringValue ?? "").split(separator: " ").map(String.init) }
    /// The DPoP key the token is bound to (`cnf.jkt`).
    var dpopThumbprint: String? { claims["cnf"]?.objectValue?["jkt"]?.stringValue }
    /// The client it was issued to: `client_id` of an access token, `azp` (else the single `aud`) of an ID
    /// token; a Txn-Token is issued to a trust domain, not a client.
    var issuedTo: String? {
        if kind == .transactionToken { return nil }
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
