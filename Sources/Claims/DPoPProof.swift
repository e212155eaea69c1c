public import JOSE
public import JSONCore
import Synchronization

/// A verified DPoP proof (RFC 9449 §4.3): its key's RFC 7638 thumbprint and its one-time `jti`. The one
/// check of a proof, used by the token endpoint and by the backend middleware. Checked here: `typ:
/// dpop+jwt`, an asymmetric `alg` from `algorithms`, a public `jwk` (a private member is refused) that
/// verifies the signature, `htm`, `htu` (normalised, without query and fragment), `iat` within `window`
/// of now, a `jti`, and `ath`: absent at the token endpoint, the access token's hash at a resource.
/// Replay of the `jti` is checked by the caller against its one-time memory.
public struct DPoPProof: Sendable {
    public static let headerName = "DPoP"
    public static let algorithms: [JWSAlgorithm] = [.ES256, .ES384, .RS256, .PS256, .EdDSA]
    /// Seconds either side of now that a proof's `iat` may be.
    public static let window: Int64 = 60
    public static let maxLength = 8 * 1024

    /// Why a proof was refused (never echoes the proof).
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let reason: String
        public init(reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// What the proof's `ath` must be.
    public enum AccessTokenHash: Sendable {
        /// At the token endpoint: no `ath`.
        case absent
        /// At a resource: base64url SHA-256 of the access token presented with it.
        case of(token: String)
    }

    public let thumbprint: String
    public let jti: String
    public let iat: Int64

    /// The key under which the proof's `jti` is remembered, and until when.
    public var oneTimeKey: String { "dpop:" + thumbprint + ":" + jti }
    public var rememberUntil: Int64 { iat.saturatingAdd(Self.window + ClaimValidator.defaultLeeway) }

    /// `normalizedURL`: `normalize` of the URL the request was sent to.
    public static func verify(_ proof: String, method: String, normalizedURL: String?, accessTokenHash: AccessTokenHash = .absent,
                              now: Int64, keys: DPoPKeyCache) throws(Failure) -> DPoPProof {
        func refuse(_ why: String) -> Failure { Failure(reason: why) }
        guard proof.utf8.count <= maxLength else { throw refuse("too long") }
        guard let jws = try? CompactJWS(proof, maxLength: maxLength) else { throw refuse("not a compact JWS") }
        let header = jws.header
        guard header["typ"]?.stringValue == "dpop+jwt" else { throw refuse("typ must be dpop+jwt") }
        guard let algName = header["alg"]?.stringValue, let alg = JWSAlgorithm(rawValue: algName), algorithms.contains(alg) else {
            throw refuse("alg must be one of \(algorithms.map(\.rawValue).joined(separator: ", "))")
        }
        guard let jwkObject = header["jwk"]?.objectValue else { throw refuse("jwk is missing") }
        if jwkObject.keys.contains(where: JWK.privateMembers.contains) { throw refuse("jwk must not contain a private key") }
        let key: JWSKey, thumbprint: String
        do {
            let jwk = try JWK(json: .object(jwkObject))
            thumbprint = try jwk.thumbprint()
            key = try keys.key(for: jwk, thumbprint: thumbprint)
        } catch { throw refuse("jwk is not a usable public key") }
        guard key.acceptedAlgorithms.contains(alg) else { throw refuse("alg does not fit the jwk") }
        let claims: JSONObject
        do { claims = try JWSVerifier(keys: KeySet([key])).verify(jws).claims } catch { throw refuse("the signature does not verify with its jwk") }
        do {
            try ClaimValidator([RequiredStringCheck("jti"), EqualsCheck("htm", method), IssuedAtWindowCheck(window: window)])
                .validate(claims, now: now)
        } catch { throw refuse(error.reason) }
        guard let htu = claims["htu"]?.stringValue, let presented = normalize(htu), presented == normalizedURL else {
            throw refuse("htu is not this endpoint")
        }
        switch accessTokenHash {
        case .absent:
            if claims["ath"] != nil { throw refuse("ath is not used at the token endpoint") }
        case .of(let token):
            guard let digest = try? Digest.hash(.sha256, Array(token.utf8)) else { throw refuse("the access token could not be hashed") }
            let expected = Base64URL.encode(digest)
            guard let ath = claims["ath"]?.stringValue, constantTimeEquals(Array(ath.utf8), Array(expected.utf8)) else {
                throw refuse("ath is not the hash of the access token")
            }
        }
        guard let jti = claims["jti"]?.stringValue, let iat = claims["iat"].flatMap(NumericDate.seconds) else { throw refuse("jti or iat is missing") }
        return DPoPProof(thumbprint: thumbprint, jti: jti, iat: iat)
    }

    /// RFC 9449 §4.3 / RFC 3986 §6.2.2–6.2.3: scheme and host lower-cased, default port dropped, empty
    /// path as `/`, query and fragment removed. Nil for anything but an absolute http(s) URL whose
    /// authority is a host (reg-name or bracketed IPv6) with at most one port of 1–5 digits.
    public static func normalize(_ url: String) -> String? {
        var rest = Substring(url)
        if let cut = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<cut] }
        guard let schemeEnd = rest.range(of: "://") else { return nil }
        let scheme = rest[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let afterScheme = rest[schemeEnd.upperBound...]
        let pathStart = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
        guard let (host, port) = hostAndPort(afterScheme[..<pathStart]) else { return nil }
        let defaultPort = scheme == "https" ? "443" : "80"
        let authority = host + (port == nil || port == defaultPort ? "" : ":" + (port ?? ""))
        let path = afterScheme[pathStart...]
        return scheme + "://" + authority + (path.isEmpty ? "/" : String(path))
    }

    /// `host[:port]` → the lower-cased host (IPv6 kept in brackets) and the port's digits.
    private static func hostAndPort(_ authority: Substring) -> (String, String?)? {
        let bytes = Array(authority.utf8)
        var hostEnd = bytes.count
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")), close > 1,
                  bytes[1..<close].allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else { return nil }
            hostEnd = close + 1
            guard hostEnd == bytes.count || bytes[hostEnd] == UInt8(ascii: ":") else { return nil }
        } else {
            hostEnd = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.count
            guard hostEnd > 0, bytes[..<hostEnd].allSatisfy(isRegNameByte) else { return nil }
        }
        var port: String?
        if hostEnd < bytes.count {
            let digits = bytes[(hostEnd + 1)...]
            guard (1...5).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            port = String(decoding: digits, as: UTF8.self)
        }
        return (String(decoding: bytes[..<hostEnd], as: UTF8.self).lowercased(), port)
    }

    /// RFC 3986 reg-name: unreserved, percent-encoded and sub-delims characters.
    private static func isRegNameByte(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || "-._~%!$&'()*+,;=".utf8.contains(b)
    }

    private static func isHexDigit(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x61...0x66).contains(b | 0x20) }

    /// A base64url SHA-256 thumbprint (43 characters), as the gateway's `dpop_jkt`.
    public static func isThumbprint(_ s: String) -> Bool {
        s.utf8.count == 43 && Base64URL.decode(Array(s.utf8))?.count == 32
    }
}

/// Verification keys of DPoP proofs by thumbprint (and the JWK's own `alg`/`use`), so that a client's
/// key is turned into an OpenSSL key once, not per request (that is most of a proof's cost). Bounded:
/// emptied when full.
public final class DPoPKeyCache: Sendable {
    private let keys = Mutex<[String: JWSKey]>([:])
    public let capacity: Int
    public init(capacity: Int = 4096) { self.capacity = capacity }

    func key(for jwk: JWK, thumbprint: String) throws(JOSEError) -> JWSKey {
        let id = thumbprint + "|" + (jwk.alg ?? "") + "|" + (jwk.use ?? "")
        if let key = keys.withLock({ $0[id] }) { return key }
        let key = try JWSKey(jwk: jwk)
        keys.withLock { map in
            if map.count >= capacity { map.removeAll(keepingCapacity: true) }
            map[id] = key
        }
        return key
    }
}
