/// JWS algorithms (RFC 7518 §3, RFC 8037 §3.1).
public enum JWSAlgorithm: String, Sendable, CaseIterable, Hashable {
    case HS256, HS384, HS512
    case RS256, RS384, RS512
    case PS256, PS384, PS512
    case ES256, ES384
    case EdDSA

    public enum Family: Sendable { case hmac, rsaPKCS1, rsaPSS, ecdsa, eddsa }

    public var family: Family {
        switch self {
        case .HS256, .HS384, .HS512: return .hmac
        case .RS256, .RS384, .RS512: return .rsaPKCS1
        case .PS256, .PS384, .PS512: return .rsaPSS
        case .ES256, .ES384: return .ecdsa
        case .EdDSA: return .eddsa
        }
    }

    /// The SHA-2 function the algorithm hashes with (EdDSA: Ed25519 uses SHA-512 internally).
    public var digest: Digest.Algorithm {
        switch self {
        case .HS256, .RS256, .PS256, .ES256: return .sha256
        case .HS384, .RS384, .PS384, .ES384: return .sha384
        case .HS512, .RS512, .PS512, .EdDSA: return .sha512
        }
    }

    /// The EC curve (OpenSSL group name, JWK `crv`) for ECDSA algorithms.
    public var curve: (openSSL: String, jwk: String, coordinateSize: Int)? {
        switch self {
        case .ES256: return ("P-256", "P-256", 32)
        case .ES384: return ("P-384", "P-384", 48)
        default: return nil
        }
    }

    public var isSymmetric: Bool { family == .hmac }
}
