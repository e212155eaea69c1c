import Claims
import JOSE
import JSONCore

/// RFC 7662: `{"active": true, …claims}` for an access or ID token this service issued, that still checks
/// out and that the caller may see; exactly `{"active": false}` for anything else (a Txn-Token is not an
/// OAuth token: workloads verify it themselves); RFC 9701: the same answer as a signed JWT.
enum Introspection {
    static let jwtMediaType = "application/token-introspection+jwt"

    static func result(token: String, caller: RegisteredClient, state: ServiceState, now: Int64) -> JSONObject {
        let inactive: JSONObject = ["active": false]
        guard let issued = state.keys.verifyIssued(token, issuer: state.config.issuer, now: now), issued.kind != .transactionToken,
              mayIntrospect(issued, caller: caller)
        else { return inactive }
        var out: JSONObject = ["active": true]
        for (k, v) in issued.claims where k != "active" { out.appendNew(k, v) }
        if out["token_type"] == nil, issued.isAccessToken {
            out.appendNew("token_type", issued.dpopThumbprint != nil ? "DPoP" : "Bearer")
        }
        return out
    }

    /// Who may see a token: the client it was issued to, or a client answering (as a resource server)
    /// for one of its audiences — its client_id, `token_exchange.subject_audiences` or
    /// `introspection.audiences`.
    static func mayIntrospect(_ token: IssuedToken, caller: RegisteredClient) -> Bool {
        if token.issuedTo == caller.id { return true }
        return token.isAudience(caller.config.resourceAudiences.union(caller.config.introspectionAudiences))
    }

    /// RFC 9701 §5: `typ: token-introspection+jwt`, signed with the service's (published) key; claims
    /// `iss`, `aud` (the calling client), `iat` and `token_introspection`.
    static func signed(_ result: JSONObject, audience: String, state: ServiceState, now: Int64) throws(TokenError) -> String {
        guard let signer = state.keys.introspectionSigner else { throw TokenError.serverError("no published signing key for introspection") }
        let claims: JSONObject = ["iss": .string(state.config.issuer), "aud": .string(audience), "iat": .int(now),
                                  "token_introspection": .object(result)]
        do { return try signer.sign(claims: claims) } catch { throw TokenError.serverError("signing the introspection answer failed") }
    }
}
