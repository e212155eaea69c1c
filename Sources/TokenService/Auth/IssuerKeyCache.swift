import Foundation
import JOSE
import JSONCore
import Logging
import OAuthWire
import Pipeline

/// One trusted issuer's public keys, fetched from its JWKS (given, or found through its discovery
/// document) and kept as long as the response's `Cache-Control: max-age` says, bounded to
/// `minimumRefetch…maximumAge`. A token naming a `kid` the cache lacks triggers at most one refetch per
/// `minimumRefetch` (a rotated-in key is found at once; made-up kids cannot make the service hammer the
/// issuer). When the cache's lifetime ends and the issuer cannot be reached, no key is served (fail closed)
/// and the next attempt waits `minimumRefetch`. Concurrent requests share one fetch.
actor IssuerKeyCache {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The most keys kept from one JWKS, and the most bytes read of a JWKS or discovery document.
    static let maxKeys = 64
    static let maxDocumentBytes = 256 * 1024
    static let fetchTimeoutMS = 5000
    static let defaultAge: Duration = .seconds(300)
    static let maximumAge: Duration = .seconds(86_400)

    let issuer: String
    let configuredJWKS: String?
    let minimumRefetch: Duration
    private let fetcher: ServiceFetcher
    private let logger: Logger
    private var keys: [String: JWSKey] = [:]
    private var validUntil: ContinuousClock.Instant?
    private var lastAttempt: ContinuousClock.Instant?
    private var lastError: String?
    private var discoveredJWKS: String?
    private var fetching: Task<Void, Never>?

    init(issuer: String, jwksURI: String?, minimumRefetch: Duration, fetcher: ServiceFetcher, logger: Logger) {
        self.issuer = issuer
        configuredJWKS = jwksURI
        self.minimumRefetch = minimumRefetch
        self.fetcher = fetcher
        self.logger = logger
    }

    /// The issuer's key `kid`; nil when the issuer does not publish it. Throws when the issuer's keys are
    /// unavailable (never fetched, or their cache lifetime ended and the issuer cannot be reached).
    func key(_ kid: String) async throws(Failure) -> JWSKey? {
        let now = ContinuousClock.now
        let fresh = validUntil.map { now < $0 } ?? false
        if fresh, let key = keys[kid] { return key }
        if !fresh { keys = [:] }
        let mayFetch = lastAttempt.map { now - $0 >= minimumRefetch } ?? true
        if mayFetch || fetching != nil { await refresh() }
        if validUntil.map({ ContinuousClock.now < $0 }) != true {
            throw Failure(description: "the keys of \(issuer) are unavailable: \(lastError ?? "not fetched yet")")
        }
        return keys[kid]
    }

    private func refresh() async {
        if let fetching { return await fetching.value }
        let task = Task { await self.fetch() }
        fetching = task
        await task.value
        fetching = nil
    }

    private func fetch() async {
        lastAttempt = ContinuousClock.now
        do throws(Failure) {
            let url = try await jwksURL()
            let (body, cacheControl) = try await get(url)
            let set: JWKS
            do { set = try JWKS(json: try JSON.parse(body)) } catch { throw Failure(description: "\(url) is not a JWKS: \(error)") }
            var loaded: [String: JWSKey] = [:]
            for var jwk in set.keys.prefix(Self.maxKeys) where jwk.kid != nil {
                // A SPIFFE bundle marks JWT-SVID signing keys `use: jwt-svid` (its X.509 roots: x509-svid).
                if jwk.use == "jwt-svid" { jwk.use = "sig" }
                if let key = try? JWSKey(jwk: jwk), !key.isSymmetric { loaded[key.kid] = key }
            }
            keys = loaded
            let age = CacheControl.maxAge(cacheControl).map { Duration.seconds($0) } ?? Self.defaultAge
            validUntil = ContinuousClock.now + min(max(age, minimumRefetch), Self.maximumAge)
            lastError = nil
        } catch {
            lastError = error.description
            if configuredJWKS == nil { discoveredJWKS = nil }
            logger.warning("trusted issuer keys unavailable", metadata: ["issuer": "\(issuer)", "error": "\(error.description)"])
        }
    }

    /// The JWKS URL: configured, or `jwks_uri` of the issuer's OpenID discovery document (whose `issuer`
    /// must be this issuer, OpenID Connect Discovery §4.3).
    private func jwksURL() async throws(Failure) -> String {
        if let url = configuredJWKS ?? discoveredJWKS { return url }
        let discovery = issuer + "/.well-known/openid-configuration"
        let (body, _) = try await get(discovery)
        guard let doc = (try? JSON.parse(body))?.objectValue else { throw Failure(description: "\(discovery) is not a JSON object") }
        guard doc["issuer"]?.stringValue == issuer else { throw Failure(description: "\(discovery) names another issuer") }
        guard let url = doc["jwks_uri"]?.stringValue, ConfigLoader.isFetchableURL(url) else {
            throw Failure(description: "\(discovery) has no usable jwks_uri (https, or http on loopback)")
        }
        discoveredJWKS = url
        return url
    }

    private func get(_ url: String) async throws(Failure) -> (body: [UInt8], cacheControl: String?) {
        switch await fetcher.get(url, timeoutMS: Self.fetchTimeoutMS, maxBytes: Self.maxDocumentBytes) {
        case .failure(let message):
            throw Failure(description: "GET \(url): \(message)")
        case .response(let status, let headers, let body):
            guard status == 200 else { throw Failure(description: "GET \(url): status \(status)") }
            return (body, headers.first { $0.0 == "cache-control" }?.1)
        }
    }
}
