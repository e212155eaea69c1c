public import Claims
public import JOSE
import Synchronization

/// How a backend treats DPoP-bound access tokens (RFC 9449 §7): tokens with `cnf.jkt` are never accepted
/// as plain bearer tokens.
public enum DPoPRequirement: Sendable {
    /// This backend does not check proofs: a bound token is refused however it is presented.
    case refuseBoundTokens
    /// A bound token needs `Authorization: DPoP <token>` and one `DPoP` proof for this request, made with
    /// the token's key. `publicBaseURL` is where clients call this backend (scheme, host, port — as
    /// they see it behind any proxy); the request's path is appended to it for `htu`.
    case verifyProofs(publicBaseURL: String)
}

/// Checks a request's DPoP proof for a bound access token: the proof itself (`DPoPProof.verify`, with
/// `ath` the token's hash), its key against the token's `cnf.jkt`, and its `jti` once.
public final class DPoPProofChecker: Sendable {
    let keys = DPoPKeyCache()
    private let seen = Mutex<[String: Int64]>([:])
    /// The most proof `jti`s remembered at once; when full of live ones, proofs are refused (fail closed).
    public let capacity: Int

    public init(capacity: Int = 100_000) { self.capacity = capacity }

    public func check(_ proof: String, method: String, url: String, token: String, boundTo thumbprint: String, now: Int64)
        throws(DPoPProof.Failure) -> DPoPProof
    {
        let verified = try DPoPProof.verify(proof, method: method, normalizedURL: DPoPProof.normalize(url),
                                            accessTokenHash: .of(token: token), now: now, keys: keys)
        guard constantTimeEquals(Array(verified.thumbprint.utf8), Array(thumbprint.utf8)) else {
            throw DPoPProof.Failure(reason: "the proof's key is not the one the token is bound to")
        }
        let fresh: Bool? = seen.withLock { map in
            if let until = map[verified.oneTimeKey], until >= now { return false }
            if map.count >= capacity {
                map = map.filter { $0.value >= now }
                if map.count >= capacity { return nil }
            }
            map[verified.oneTimeKey] = verified.rememberUntil
            return true
        }
        guard let fresh else { throw DPoPProof.Failure(reason: "too many proofs in flight") }
        guard fresh else { throw DPoPProof.Failure(reason: "jti was already used") }
        return verified
    }
}
