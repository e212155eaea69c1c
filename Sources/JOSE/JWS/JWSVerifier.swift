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
    public var maxTokenLength = CompactJWS.maxLength

    public init(keys: KeySet) { self.keys = keys }

    public func verify(_ token: String) throws(JOSEError) -> VerifiedJWS {
        try verify(try CompactJWS(token, maxLength: maxTokenLength))
    }

    public func verify(_ jws: CompactJWS) throws(JOSEError) -> VerifiedJWS {
        let header = jws.header
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
        for key in candidates {
            guard key.acceptedAlgorithms.contains(alg) else {
                throw JOSEError.algorithmMismatch(expected: key.algorithm.rawValue, got: algName)
            }
            let ok = jws.bytes.withUnsafeBytes { raw in
                key.verify(signature: jws.signature, data: UnsafeRawBufferPointer(rebasing: raw[0..<jws.signingInputCount]), algorithm: alg)
            }
            if ok {
                guard let claims = (try? JSON.parse(jws.payload))?.objectValue else {
                    throw JOSEError.malformedToken("payload is not a JSON object")
                }
                return VerifiedJWS(header: header, claims: claims, key: key)
            }
        }
        throw JOSEError.signatureInvalid
    }
}
