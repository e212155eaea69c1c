import Foundation
import JOSE
import JSONCore
import Logging
import OAuthWire
import Pipeline
import Synchronization

/// One trusted issuer's public keys, fetched from its JWKS (given, or found through its discovery
/// document) and kept as long as the response's `Cache-Control: max-age` says, bounded to
/// `minimumRefetch…maximumAge`. A token naming a `kid` the cache lacks triggers at most one refetch per
/// `minimumRefetch` (a rotated-in key is found at once; made-up kids cannot make the service hammer the
/// issuer). When the cache's lifetime ends and the issuer cannot be reached, no key is served (fail closed)
/// and the next attempt waits `minimumRefetch`. A cached key is found under a lock, on the caller's thread
/// (no hop per request); concurrent requests that need a fetch share one.
final class IssuerKeyCache: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The most keys kept from one JWKS, and the most bytes read of a JWKS or discovery document.
    static let maxKeys = 64
    static let maxDocumentBytes = 256 * 1024
    static let fetchTimeoutMS = 5000
    static let defaultAge: Duration = .seconds(300)
    static let maximumAge: Duration = .seconds(86_400)

    private struct State {
        var keys: [String: JWSKey] = [:]
        var validUntil: ContinuousClock.Instant?
        var lastAttempt: ContinuousClock.Instant?
        var lastError: String?
        var discoveredJWKS: String?
        var fetching: Task<Void, Never>?

        func isFresh(_ now: ContinuousClock.Instant) -> Bool { validUntil.map { now < $0 } ?? false }
    }

    let issuer: String
    let configuredJWKS: String?
    let minimumRefetch: Duration
    private let fetcher: ServiceFetcher
    private let logger: Logger
    private let state = Mutex(State())

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
        enum Next { case found(JWSKey?), wait(Task<Void, Never>) }
        let next: Next = state.withLock { s in
            let now = ContinuousClock.now
            let fresh = s.isFresh(now)
            if fresh, let key = s.keys[kid] { return .found(key) }
            if !fresh { s.keys = [:] }
            if let task = s.fetching { return .wait(task) }
            guard s.lastAttempt.map({ now - $0 >= minimumRefetch }) ?? true else { return .found(nil) }
            s.lastAttempt = now
            let task = Task { await self.fetch() }
            s.fetching = task
            return .wait(task)
        }
        if case .wait(let task) = next { await task.value }
        return try state.withLock { s throws(Failure) -> JWSKey? in
            guard s.isFresh(ContinuousClock.now) else {
                throw Failure(description: "the keys of \(issuer) are unavailable: \(s.lastError ?? "not fetched yet")")
            }
            return s.keys[kid]
        }
    }

    private func fetch() async {
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
            let age = CacheControl.maxAge(cacheControl).map { Duration.seconds($0) } ?? Self.defaultAge
            let until = ContinuousClock.now + min(max(age, minimumRefetch), Self.maximumAge)
            state.withLock { s in
                s.keys = loaded
                s.validUntil = until
                s.lastError = nil
                s.fetching = nil
            }
        } catch {
            state.withLock { s in
                s.lastError = error.description
                if configuredJWKS == nil { s.discoveredJWKS = nil }
                s.fetching = nil
            }
            logger.warning("trusted issuer keys unavailable", metadata: ["issuer": "\(issuer)", "error": "\(error.description)"])
        }
    }

    /// The JWKS URL: configured, or `jwks_uri` of the issuer's OpenID discovery document (whose `issuer`
    /// must be this issuer, OpenID Connect Discovery §4.3).
    private func jwksURL() async throws(Failure) -> String {
        if let url = configuredJWKS ?? state.withLock({ $0.discoveredJWKS }) { return url }
        let discovery = issuer + "/.well-known/openid-configuration"
        let (body, _) = try await get(discovery)
        guard let doc = (try? JSON.parse(body))?.objectValue else { throw Failure(description: "\(discovery) is not a JSON object") }
        guard doc["issuer"]?.stringValue == issuer else { throw Failure(description: "\(discovery) names another issuer") }
        guard let url = doc["jwks_uri"]?.stringValue, ConfigLoader.isFetchableURL(url) else {
            throw Failure(description: "\(discovery) has no usable jwks_uri (https, or http on loopback)")
        }
        state.withLock { $0.discoveredJWKS = url }
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
