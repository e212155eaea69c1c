import Claims
import JOSE
import JSONCore

/// RFC 7662: `{"active": true, …claims}` for a token this service issued and that still checks out,
/// exactly `{"active": false}` for anything else; RFC 9701: the same answer as a signed JWT.
enum Introspection {
    static let jwtMediaType = "application/token-introspection+jwt"

    static func result(token: String, state: ServiceState, now: Int64) -> JSONObject {
        let inactive: JSONObject = ["active": false]
        guard let verified = try? JWSVerifier(keys: state.keys.all).verify(token),
              (try? ClaimValidator.token(issuer: state.config.issuer).validate(verified.claims, now: now)) != nil
        else { return inactive }
        var out: JSONObject = ["active": true]
        for (k, v) in verified.claims where k != "active" { out.appendNew(k, v) }
        if out["token_type"] == nil, AccessTokenClaims.isAccessTokenType(verified.header["typ"]) {
            out.appendNew("token_type", out["cnf"]?.objectValue?["jkt"] != nil ? "DPoP" : "Bearer")
        }
        return out
    }

    /// RFC 9701 §5: `typ: token-introspection+jwt`, signed with the service's (published) key; claims
    /// `iss`, `aud` (the calling client), `iat` and `token_introspection`.
    static func signed(_ result: JSONObject, audience: String, state: ServiceState, now: Int64) throws(OAuthError) -> String {
        guard let signer = state.keys.introspectionSigner else { throw OAuthError.serverError("no published signing key for introspection") }
        let claims: JSONObject = ["iss": .string(state.config.issuer), "aud": .string(audience), "iat": .int(now),
                                  "token_introspection": .object(result)]
        do { return try signer.sign(claims: claims) } catch { throw OAuthError.serverError("signing the introspection answer failed") }
    }
}
