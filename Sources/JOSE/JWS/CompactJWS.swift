public import JSONCore

/// A compact JWS (RFC 7515 §7.1) split and decoded once: the one parser of every JWS the service reads —
/// tokens presented to it, client assertions, DPoP proofs — and of the verifier library's. Keeps the
/// signing input's length so that verification signs over the original bytes. The header is parsed
/// (it names the key and the algorithm); the payload is parsed only when asked (`unverifiedClaims`) or
/// after the signature checks out (`JWSVerifier`).
public struct CompactJWS: Sendable {
    /// Longer inputs are refused before any parsing.
    public static let maxLength = 16 * 1024

    /// The token's bytes as received.
    public let bytes: [UInt8]
    public let header: JSONObject
    public let payload: [UInt8]
    public let signature: [UInt8]
    /// `header.payload`: the first this many bytes of `bytes`.
    public let signingInputCount: Int

    public init(_ token: String, maxLength: Int = CompactJWS.maxLength) throws(JOSEError) {
        let bytes = Array(token.utf8)
        guard bytes.count <= maxLength else { throw JOSEError.malformedToken("token is too long") }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw JOSEError.malformedToken("a compact JWS has three parts") }
        guard let headerBytes = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]), let signature = Base64URL.decode(parts[2])
        else { throw JOSEError.malformedToken("a part is not base64url") }
        guard let header = (try? JSON.parse(headerBytes))?.objectValue else { throw JOSEError.malformedToken("header is not a JSON object") }
        self.bytes = bytes
        self.header = header
        self.payload = payload
        self.signature = signature
        signingInputCount = parts[0].count + 1 + parts[1].count
    }

    /// The payload as a JSON object, before any signature check: only to find out which key should
    /// verify it (e.g. a client assertion's `iss`), never to trust.
    public func unverifiedClaims() -> JSONObject? { (try? JSON.parse(payload))?.objectValue }
}
