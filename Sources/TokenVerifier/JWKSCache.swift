public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
public import JOSE
import JSONCore
import OAuthWire

/// The issuer's public keys, fetched from its JWKS URL and cached as its `Cache-Control: max-age`
/// says (bounded to `minimumAge…maximumAge`). A token signed by a key not in the cache triggers one
/// refetch, at most once per `refetchInterval`: a rotated-in key is found at once, and a flood of
/// tokens with made-up kids cannot make the verifier hammer the issuer.
public actor JWKSCache {
    public struct Configuration: Sendable {
        public var url: URL
        public var minimumAge: Duration = .seconds(30)
        public var maximumAge: Duration = .seconds(86_400)
        /// Used when the response has no max-age.
        public var defaultAge: Duration = .seconds(300)
        public var refetchInterval: Duration = .seconds(30)
        public init(url: URL) { self.url = url }
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case fetch(String)
        public var description: String {
            switch self { case .fetch(let s): return "fetching the JWKS failed: \(s)" }
        }
    }

    private let configuration: Configuration
    private let fetcher: @Sendable (URL) async throws -> (Data, String?)
    private var keys: [String: JWSKey] = [:]
    private var expires: ContinuousClock.Instant?
    private var lastFetch: ContinuousClock.Instant?

    /// `fetcher` returns the body and the Cache-Control header (tests give their own).
    public init(configuration: Configuration, fetcher: (@Sendable (URL) async throws -> (Data, String?))? = nil) {
        self.configuration = configuration
        self.fetcher = fetcher ?? JWKSCache.fetch
    }

    /// The key for `kid`, fetching or refreshing as needed; nil when the issuer does not publish it.
    public func key(_ kid: String) async throws(Failure) -> JWSKey? {
        let now = ContinuousClock.now
        if expires.map({ now >= $0 }) ?? true {
            try await refresh(now)
        } else if keys[kid] == nil, lastFetch.map({ now - $0 >= configuration.refetchInterval }) ?? true {
            try await refresh(now)
        }
        return keys[kid]
    }

    private func refresh(_ now: ContinuousClock.Instant) async throws(Failure) {
        lastFetch = now
        let body: Data, cacheControl: String?
        do { (body, cacheControl) = try await fetcher(configuration.url) } catch { throw .fetch("\(error)") }
        let set: JWKS
        do { set = try JWKS(json: try JSON.parse(Array(body))) } catch { throw .fetch("not a JWKS: \(error)") }
        var loaded: [String: JWSKey] = [:]
        for jwk in set.keys where jwk.kid != nil {
            if let key = try? JWSKey(jwk: jwk) { loaded[key.kid] = key }
        }
        keys = loaded
        let age = CacheControl.maxAge(cacheControl).map { Duration.seconds($0) } ?? configuration.defaultAge
        expires = now + min(max(age, configuration.minimumAge), configuration.maximumAge)
    }

    @Sendable static func fetch(_ url: URL) async throws -> (Data, String?) {
        var request = URLRequest(url: url)
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else { throw Failure.fetch("status \((response as? HTTPURLResponse)?.statusCode ?? 0)") }
        return (data, http.value(forHTTPHeaderField: "Cache-Control"))
    }
}
