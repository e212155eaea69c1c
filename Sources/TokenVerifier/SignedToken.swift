public import JOSE
import JSONCore

/// Why a backend refused a token (logged by the backend; the caller gets a bare 401).
public enum TokenVerificationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case unknownKey
    case signature
    /// The JWS `typ` is not the kind of token this verifier takes (named).
    case wrongType(String)
    case claims(String)
    case jwksUnavailable
    public var description: String {
        switch self {
        case .malformed(let s): return "malformed token: \(s)"
        case .unknownKey: return "signed by a key the issuer does not publish"
        case .signature: return "the signature does not verify"
        case .wrongType(let t): return "not the token expected here (typ must be \(t))"
        case .claims(let s): return s
        case .jwksUnavailable: return "the issuer's keys cannot be fetched"
        }
    }
}

/// The checks every token a backend takes goes through first: a compact JWS with a `kid`, of the expected
/// `typ`, signed by that key of the issuer's JWKS (the key pins the algorithm).
enum SignedToken {
    static func verify(_ token: String, keys: JWKSCache, type: String, typeCheck: (JSONValue?) -> Bool)
        async throws(TokenVerificationFailure) -> VerifiedJWS
    {
        guard let jws = try? CompactJWS(token) else { throw .malformed("not a compact JWS") }
        let header = jws.header
        guard let kid = header["kid"]?.stringValue else { throw .malformed("no kid") }
        guard typeCheck(header["typ"]) else { throw .wrongType(type) }
        let key: JWSKey?
        do { key = try await keys.key(kid) } catch { throw .jwksUnavailable }
        guard let key else { throw .unknownKey }
        do { return try JWSVerifier(keys: KeySet([key])).verify(jws) } catch { throw .signature }
    }
}
