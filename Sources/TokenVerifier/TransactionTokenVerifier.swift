public import Claims
public import JSONCore

/// A verified Transaction Token: its typed claims, for the workload's authorization decision.
public struct VerifiedTransactionToken: Sendable {
    public let claims: TransactionTokenClaims
    /// Every claim, those this library does not know included (the draft: recipients ignore what they
    /// do not understand; a workload may read them).
    public let rawClaims: JSONObject
    /// The token as received: what this workload passes on, unmodified, in its own calls' `Txn-Token`
    /// header (§10.2). Never log it.
    public let compact: String
    public var scopes: Set<String> { Set(claims.scope) }
}

/// Verifies Transaction Tokens (draft-ietf-oauth-transaction-tokens-10 §10.2) offline, the way every
/// workload of a call chain must: the signature by a key from the Transaction Token Service's JWKS,
/// `typ: txntoken+jwt` (an access or ID token is refused), `aud` = this workload's trust domain, not
/// expired, and the claims a Txn-Token must carry (`txn`, `sub`, `scope`, `req_wl`, `iat`). `iss`, when the
/// service names one, must be it.
public struct TransactionTokenVerifier: Sendable {
    public typealias Failure = TokenVerificationFailure
    /// The request header a Txn-Token travels in between workloads (§10.1).
    public static let headerName = TransactionTokenClaims.headerName

    public let trustDomain: String
    public let issuer: String?
    public let leeway: Int64
    public let keys: JWKSCache

    public init(trustDomain: String, issuer: String? = nil, keys: JWKSCache, leeway: Int64 = ClaimValidator.defaultLeeway) {
        self.trustDomain = trustDomain
        self.issuer = issuer
        self.keys = keys
        self.leeway = leeway
    }

    public func verify(_ token: String, now: Int64) async throws(Failure) -> VerifiedTransactionToken {
        let verified = try await SignedToken.verify(token, keys: keys, type: TransactionTokenClaims.type,
                                                    typeCheck: TransactionTokenClaims.isTransactionTokenType)
        do {
            try ClaimValidator.token(issuer: issuer, audiences: [trustDomain], leeway: leeway).validate(verified.claims, now: now)
            return VerifiedTransactionToken(claims: try TransactionTokenClaims(claims: verified.claims), rawClaims: verified.claims,
                                            compact: token)
        } catch { throw .claims(error.reason) }
    }
}
