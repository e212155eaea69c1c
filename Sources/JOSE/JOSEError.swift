/// Every failure of the JOSE layer. Messages never contain key material.
public enum JOSEError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An OpenSSL call failed; `operation` names the call, `reason` is OpenSSL's error string.
    case openSSL(operation: String, reason: String)
    case unsupportedAlgorithm(String)
    case invalidKey(String)
    case malformedToken(String)
    case signatureInvalid
    case algorithmMismatch(expected: String, got: String)
    case unknownKey(String)

    public var description: String {
        switch self {
        case .openSSL(let op, let reason): return "OpenSSL \(op) failed: \(reason)"
        case .unsupportedAlgorithm(let a): return "unsupported algorithm \(a)"
        case .invalidKey(let why): return "invalid key: \(why)"
        case .malformedToken(let why): return "malformed token: \(why)"
        case .signatureInvalid: return "signature does not verify"
        case .algorithmMismatch(let e, let g): return "algorithm \(g) does not match the key's \(e)"
        case .unknownKey(let kid): return "no key with kid \(kid)"
        }
    }
}
