public import JSONCore

/// A key that signs and/or verifies JWS, with the algorithms it may be used with pinned at
/// construction: a token's `alg` header can only choose among them, never widen them.
public final class JWSKey: Sendable {
    public let kid: String
    /// The algorithm this key signs with.
    public let algorithm: JWSAlgorithm
    /// Algorithms a signature by this key may claim (always one family; HMAC only for HMAC keys).
    public let acceptedAlgorithms: Set<JWSAlgorithm>
    /// The public JWK (nil for HMAC secrets, which are never published).
    public let publicJWK: JWK?
    private let backend: Backend

    private enum Backend: Sendable {
        case hmac(HMACKey)
        case asymmetric(EVPKey, AsymmetricSigner)
    }

    public var isSymmetric: Bool { algorithm.isSymmetric }
    public var canSign: Bool {
        switch backend {
        case .hmac: return true
        case .asymmetric(let key, _): return key.isPrivate
        }
    }

    /// A private key from PEM (PKCS#8, PKCS#1 or SEC1). Without a kid, the RFC 7638 thumbprint is used.
    public convenience init(privateKeyPEM pem: [UInt8], algorithm: JWSAlgorithm, kid: String? = nil) throws(JOSEError) {
        guard !algorithm.isSymmetric else { throw JOSEError.invalidKey("\(algorithm.rawValue) takes a secret, not a PEM key") }
        try self.init(evp: try EVPKey.privateKey(pem: pem), algorithm: algorithm, kid: kid)
    }

    package init(evp: EVPKey, algorithm: JWSAlgorithm, kid requestedKid: String? = nil) throws(JOSEError) {
        let signer = try AsymmetricSigner(key: evp, algorithm: algorithm)
        var jwk = try Self.publicJWK(of: evp, algorithm: algorithm)
        let kid: String
        if let given = requestedKid { kid = given } else { kid = try jwk.thumbprint() }
        jwk.kid = kid
        self.kid = kid
        self.algorithm = algorithm
        self.acceptedAlgorithms = [algorithm]
        self.publicJWK = jwk
        self.backend = .asymmetric(evp, signer)
    }

    /// An HMAC secret (at least as long as the hash).
    public init(secret: [UInt8], algorithm: JWSAlgorithm, kid: String) throws(JOSEError) {
        backend = .hmac(try HMACKey(secret: secret, algorithm: algorithm))
        self.kid = kid
        self.algorithm = algorithm
        self.acceptedAlgorithms = [algorithm]
        self.publicJWK = nil
    }

    /// A verification key from a public JWK (e.g. a private_key_jwt client's registered JWKS).
    /// Without `alg`, the key type alone decides: RSA keys accept RS* and PS*, EC keys their curve's ES*.
    public init(jwk: JWK) throws(JOSEError) {
        if let use = jwk.use, use != "sig" { throw JOSEError.invalidKey("JWK use is \(use), not sig") }
        let declared: JWSAlgorithm?
        if let alg = jwk.alg {
            guard let a = JWSAlgorithm(rawValue: alg) else { throw JOSEError.unsupportedAlgorithm(alg) }
            declared = a
        } else {
            declared = nil
        }
        let evp: EVPKey
        let family: Set<JWSAlgorithm>
        func decode(_ v: String?, _ name: String) throws(JOSEError) -> [UInt8] {
            guard let v, let bytes = Base64URL.decode(v) else { throw JOSEError.invalidKey("JWK member \(name) is missing or not base64url") }
            return bytes
        }
        switch jwk.kty {
        case "RSA":
            evp = try EVPKey.rsaPublicKey(modulus: try decode(jwk.n, "n"), exponent: try decode(jwk.e, "e"))
            family = [.RS256, .RS384, .RS512, .PS256, .PS384, .PS512]
        case "EC":
            guard let alg = JWSAlgorithm.allCases.first(where: { $0.curve?.jwk == jwk.crv }), let curve = alg.curve else {
                throw JOSEError.invalidKey("unsupported EC curve \(jwk.crv ?? "none")")
            }
            evp = try EVPKey.ecPublicKey(curve: curve.openSSL, x: try decode(jwk.x, "x"), y: try decode(jwk.y, "y"),
                                         coordinateSize: curve.coordinateSize)
            family = [alg]
        case "OKP":
            guard jwk.crv == "Ed25519" else { throw JOSEError.invalidKey("unsupported OKP curve \(jwk.crv ?? "none")") }
            evp = try EVPKey.ed25519PublicKey(try decode(jwk.x, "x"))
            family = [.EdDSA]
        default:
            throw JOSEError.invalidKey("unsupported kty \(jwk.kty)")
        }
        if let declared, !family.contains(declared) {
            throw JOSEError.invalidKey("alg \(declared.rawValue) does not fit a \(jwk.kty) key")
        }
        let primary = declared ?? family.sorted(by: { $0.rawValue < $1.rawValue })[0]
        let signer = try AsymmetricSigner(key: evp, algorithm: primary)
        var exported = try Self.publicJWK(of: evp, algorithm: primary)
        let kid: String
        if let given = jwk.kid { kid = given } else { kid = try exported.thumbprint() }
        exported.kid = kid
        self.kid = kid
        self.algorithm = primary
        self.acceptedAlgorithms = declared.map { [$0] } ?? family
        self.publicJWK = exported
        self.backend = .asymmetric(evp, signer)
    }

    public func sign(_ data: UnsafeRawBufferPointer) throws(JOSEError) -> [UInt8] {
        switch backend {
        case .hmac(let h): return try h.mac(data)
        case .asymmetric(_, let s): return try s.sign(data)
        }
    }

    public func sign(_ data: [UInt8]) throws(JOSEError) -> [UInt8] {
        let result = data.withUnsafeBytes { raw in Result { () throws(JOSEError) in try sign(raw) } }
        return try result.get()
    }

    /// Verifies a signature made with `alg`, which must be one this key accepts.
    public func verify(signature: [UInt8], data: UnsafeRawBufferPointer, algorithm alg: JWSAlgorithm) -> Bool {
        guard acceptedAlgorithms.contains(alg) else { return false }
        switch backend {
        case .hmac(let h):
            return h.verify(signature, data)
        case .asymmetric(let evp, let s):
            if alg == s.algorithm { return s.verify(signature, data) }
            guard let other = try? AsymmetricSigner(key: evp, algorithm: alg) else { return false }
            return other.verify(signature, data)
        }
    }

    private static func publicJWK(of key: EVPKey, algorithm: JWSAlgorithm) throws(JOSEError) -> JWK {
        switch key.type {
        case .rsa:
            return JWK(kty: "RSA", use: "sig", alg: algorithm.rawValue,
                       n: Base64URL.encode(try key.bigNumParam("n")), e: Base64URL.encode(try key.bigNumParam("e")))
        case .ec:
            guard let curve = algorithm.curve else { throw JOSEError.invalidKey("EC key with \(algorithm.rawValue)") }
            let (x, y) = try key.ecCoordinates(size: curve.coordinateSize)
            return JWK(kty: "EC", use: "sig", alg: algorithm.rawValue, crv: curve.jwk, x: Base64URL.encode(x), y: Base64URL.encode(y))
        case .ed25519:
            return JWK(kty: "OKP", use: "sig", alg: algorithm.rawValue, crv: "Ed25519", x: Base64URL.encode(try key.rawPublicKey()))
        }
    }
}
