import Claims
import JOSE
import JSONCore
import Logging
import Pipeline
import Synchronization

/// A workload authenticated by its platform's token (a Kubernetes service account token, a SPIFFE
/// JWT-SVID, any OIDC issuer's JWT): the client its subject maps to.
struct PlatformIdentity: Sendable {
    let clientID: String
    let claims: JSONObject
    let expiresAt: Int64
}

/// Verifies platform tokens against `trusted_issuers`: the issuer's key from its JWKS (one cache per
/// issuer and JWKS URL, kept across reloads; the key pins the algorithm), then `iss`, `aud`,
/// `exp`/`nbf`/`iat` with the one leeway, and a `sub` that maps to exactly one client. A JWKS URL or
/// key the token names (`jku`, `jwk`, `x5u`) is never used.
final class WorkloadIdentity: Sendable {
    /// Why a platform token was refused: logged, never sent (the client sees `invalid_client`).
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    static let bearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// draft-ietf-oauth-spiffe-client-auth: a JWT-SVID as the client assertion.
    static let spiffeAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"

    private let fetcher = ServiceFetcher()
    private let logger: Logger
    private let caches = Mutex<[String: IssuerKeyCache]>([:])

    init(logger: Logger) { self.logger = logger }

    /// The trusted issuer a token claims to come from, if any: the entry naming its (unverified) `iss`, else
    /// for a JWT-SVID, whose `iss` is optional, the SPIFFE trust domain of its `sub`.
    static func entry(for jws: CompactJWS, among issuers: [ServiceConfig.TrustedIssuer]) -> ServiceConfig.TrustedIssuer? {
        guard !issuers.isEmpty, let claims = jws.unverifiedClaims() else { return nil }
        return entry(claims: claims, among: issuers)
    }

    /// The same, from claims already read.
    static func entry(claims: JSONObject, among issuers: [ServiceConfig.TrustedIssuer]) -> ServiceConfig.TrustedIssuer? {
        if let iss = claims["iss"]?.stringValue, let entry = issuers.first(where: { $0.issuer == iss }) { return entry }
        guard let sub = claims["sub"]?.stringValue else { return nil }
        return issuers.first { $0.isSPIFFE && sub.hasPrefix($0.issuer + "/") }
    }

    func verify(_ jws: CompactJWS, issuer entry: ServiceConfig.TrustedIssuer, now: Int64) async throws(Failure) -> PlatformIdentity {
        guard let kid = jws.header["kid"]?.stringValue, !kid.isEmpty, kid.utf8.count <= 256 else { throw Failure("the token has no kid") }
        let key: JWSKey?
        do { key = try await cache(for: entry).key(kid) } catch { throw Failure(error.description) }
        guard let key else { throw Failure("\(entry.issuer) does not publish kid \(kid)") }
        let verified: VerifiedJWS
        do { verified = try JWSVerifier(keys: KeySet([key])).verify(jws) } catch { throw Failure("the signature does not verify: \(error)") }
        let claims = verified.claims
        var checks: [any ClaimCheck] = [AudienceCheck(accepted: [entry.audience]), ExpirationCheck(), NotBeforeCheck(), IssuedAtCheck()]
        if !entry.isSPIFFE || claims["iss"] != nil { checks.append(IssuerCheck(issuer: entry.issuer)) }
        do { try ClaimValidator(checks).validate(claims, now: now) } catch { throw Failure(error.reason) }
        guard let sub = claims["sub"]?.stringValue, !sub.isEmpty else { throw Failure("the token has no sub") }
        // A JWT-SVID's subject is a SPIFFE ID of the bundle's trust domain.
        if entry.isSPIFFE, !sub.hasPrefix(entry.issuer + "/") { throw Failure("\(sub) is not in trust domain \(entry.issuer)") }
        guard let clientID = entry.client(for: sub) else { throw Failure("subject \(sub) is not mapped to a client") }
        guard let exp = claims["exp"].flatMap(NumericDate.seconds) else { throw Failure("exp is missing") }
        return PlatformIdentity(clientID: clientID, claims: claims, expiresAt: exp)
    }

    private func cache(for entry: ServiceConfig.TrustedIssuer) -> IssuerKeyCache {
        let id = entry.cacheKey
        return caches.withLock { caches in
            if let cache = caches[id] { return cache }
            let cache = IssuerKeyCache(issuer: entry.issuer, jwksURI: entry.jwksURI, minimumRefetch: .seconds(entry.minimumRefetchSeconds),
                                       fetcher: fetcher, logger: logger)
            caches[id] = cache
            return cache
        }
    }
}
