public import JSONCore

/// A Transaction Token (draft-ietf-oauth-transaction-tokens-10 §7): the JWS `typ`, the token-type URN and
/// the claims, in one value that both the issuer (serialising) and verifiers (reading) use.
public struct TransactionTokenClaims: Sendable, Equatable {
    /// The JWS `typ` (§7.1).
    public static let type = "txntoken+jwt"
    /// `requested_token_type` / `issued_token_type` / `subject_token_type` of a Txn-Token (§9.1).
    public static let tokenTypeURN = "urn:ietf:params:oauth:token-type:txn_token"
    /// The request header a workload passes it in (§10.1): never `Authorization`.
    public static let headerName = "Txn-Token"
    /// Separates the workloads in `req_wl` when a replacement extends the call chain (§12.9).
    public static let workloadSeparator: Character = ","

    /// Whether a JWS header's `typ` says Txn-Token (case-insensitive, with or without `application/`).
    public static func isTransactionTokenType(_ typ: JSONValue?) -> Bool {
        guard let t = typ?.stringValue?.lowercased() else { return false }
        return t == type || t == "application/" + type
    }

    public var issuer: String
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// The trust domain (§7.2: `aud`).
    public var audience: String
    public var transactionID: String
    public var subject: String
    public var scope: [String]
    /// The workloads that asked for it: the first requester, then each one that replaced it.
    public var requestingWorkloads: [String]
    /// `rctx`: the environment of the request (§7.2.2).
    public var requestContext: JSONObject
    /// `tctx`: what stays fixed along the call chain (§7.2.3).
    public var transactionContext: JSONObject

    public init(issuer: String, issuedAt: Int64, expiresAt: Int64, audience: String, transactionID: String, subject: String,
                scope: [String], requestingWorkloads: [String], requestContext: JSONObject = [:], transactionContext: JSONObject = [:]) {
        self.issuer = issuer; self.issuedAt = issuedAt; self.expiresAt = expiresAt; self.audience = audience
        self.transactionID = transactionID; self.subject = subject; self.scope = scope
        self.requestingWorkloads = requestingWorkloads; self.requestContext = requestContext; self.transactionContext = transactionContext
    }

    /// The claims of a verified token, or why they are not a Txn-Token's. Times were checked by the verifier.
    public init(claims: JSONObject) throws(ClaimCheckError) {
        func string(_ name: String) throws(ClaimCheckError) -> String {
            guard let s = claims[name]?.stringValue, !s.isEmpty else { throw ClaimCheckError("\(name) is missing") }
            return s
        }
        guard let iat = try NumericDate.read("iat", in: claims) else { throw ClaimCheckError("iat is missing") }
        guard let exp = try NumericDate.read("exp", in: claims) else { throw ClaimCheckError("exp is missing") }
        let scope = try string("scope").split(separator: " ").map(String.init)
        guard !scope.isEmpty else { throw ClaimCheckError("scope is missing") }
        let requesters = try string("req_wl").split(separator: Self.workloadSeparator, omittingEmptySubsequences: false).map(String.init)
        guard !requesters.contains(where: \.isEmpty) else { throw ClaimCheckError("req_wl is malformed") }
        func object(_ name: String) throws(ClaimCheckError) -> JSONObject {
            guard let v = claims[name] else { return [:] }
            guard let o = v.objectValue else { throw ClaimCheckError("\(name) must be an object") }
            return o
        }
        self.init(issuer: claims["iss"]?.stringValue ?? "", issuedAt: iat, expiresAt: exp, audience: try string("aud"),
                  transactionID: try string("txn"), subject: try string("sub"), scope: scope, requestingWorkloads: requesters,
                  requestContext: try object("rctx"), transactionContext: try object("tctx"))
    }

    /// The payload, in a fixed order. Never `cnf` and never a copy of the subject token (§12.4).
    public var payload: JSONObject {
        var o = JSONObject()
        o.appendNew("iss", .string(issuer))
        o.appendNew("iat", .int(issuedAt))
        o.appendNew("exp", .int(expiresAt))
        o.appendNew("aud", .string(audience))
        o.appendNew("txn", .string(transactionID))
        o.appendNew("sub", .string(subject))
        o.appendNew("scope", .string(scope.joined(separator: " ")))
        o.appendNew("req_wl", .string(requestingWorkloads.joined(separator: String(Self.workloadSeparator))))
        if !requestContext.isEmpty { o.appendNew("rctx", .object(requestContext)) }
        if !transactionContext.isEmpty { o.appendNew("tctx", .object(transactionContext)) }
        return o
    }
}
