public import JSONCore

/// A verified compact JWS: its protected header, claims and the key that verified it.
public struct VerifiedJWS: Sendable {
    public let header: JSONObject
    public let claims: JSONObject
    public let key: JWSKey
}

/// Strict compact-JWS verification. The algorithm must be one the selected key accepts (the header
/// cannot pick a weaker or different family), `none` never verifies, `crit` is refused, and both the
/// header and the payload must be JSON objects without duplicate members.
public struct JWSVerifier: Sendable {
    public let keys: KeySet
    /// Larger inputs are refused before any parsing.
    public var maxTokenLength = 16 * 1024

    public init(keys: KeySet) { self.keys = keys }

    public func verify(_ token: String) throws(JOSEError) -> VerifiedJWS {
        let bytes = Array(token.utf8)
        guard bytes.count <= maxTokenLength else { throw JOSEError.malformedToken("token is too long") }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw JOSEError.malformedToken("a compact JWS has three parts") }
        guard let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2])
        else { throw JOSEError.malformedToken("a part is not base64url") }
        guard let header = (try? JSON.parse(headerBytes))?.objectValue else { throw JOSEError.malformedToken("header is not a JSON object") }
        guard let algName = header["alg"]?.stringValue else { throw JOSEError.malformedToken("header has no alg") }
        guard let alg = JWSAlgorithm(rawValue: algName) else { throw JOSEError.unsupportedAlgorithm(algName) }
        if header["crit"] != nil { throw JOSEError.malformedToken("critical header parameters are not supported") }
        if let b64 = header["b64"], b64 != .bool(true) { throw JOSEError.malformedToken("unencoded payloads are not supported") }

        let candidates: [JWSKey]
        if let kidValue = header["kid"] {
            guard let kid = kidValue.stringValue else { throw JOSEError.malformedToken("kid is not a string") }
            guard let key = keys[kid] else { throw JOSEError.unknownKey(kid) }
            candidates = [key]
        } else {
            candidates = keys.keys.filter { $0.acceptedAlgorithms.contains(alg) }
        }
        guard !candidates.isEmpty else { throw JOSEError.unknownKey("(none for \(algName))") }
        let signingInputLength = parts[0].count + 1 + parts[1].count
        for key in candidates {
            guard key.acceptedAlgorithms.contains(alg) else {
                throw JOSEError.algorithmMismatch(expected: key.algorithm.rawValue, got: algName)
            }
            let ok = bytes.withUnsafeBytes { raw in
                key.verify(signature: signature, data: UnsafeRawBufferPointer(rebasing: raw[0..<signingInputLength]), algorithm: alg)
            }
            if ok {
                guard let claims = (try? JSON.parse(payloadBytes))?.objectValue else {
                    throw JOSEError.malformedToken("payload is not a JSON object")
                }
                return VerifiedJWS(header: header, claims: claims, key: key)
            }
        }
        throw JOSEError.signatureInvalid
    }
}
