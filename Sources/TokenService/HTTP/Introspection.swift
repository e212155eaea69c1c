import JOSE
import JSONCore

/// RFC 7662: `{"active": true, …claims}` for a token this service issued and that still checks out,
/// exactly `{"active": false}` for anything else.
enum Introspection {
    static func result(token: String, state: ServiceState, now: Int64) -> JSONObject {
        let inactive: JSONObject = ["active": false]
        guard let verified = try? JWSVerifier(keys: state.keys.all).verify(token) else { return inactive }
        let claims = verified.claims
        guard claims["iss"]?.stringValue == state.config.issuer, let exp = claims["exp"]?.intValue, exp > now else { return inactive }
        if let nbf = claims["nbf"]?.intValue, nbf > now { return inactive }
        var out: JSONObject = ["active": true]
        for (k, v) in claims where k != "active" { out.appendNew(k, v) }
        if out["token_type"] == nil, verified.header["typ"] == "at+jwt" { out.appendNew("token_type", "Bearer") }
        return out
    }
}
