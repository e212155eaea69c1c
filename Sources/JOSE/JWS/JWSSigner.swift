public import JSONCore

/// Produces compact JWS (RFC 7515 §7.1) with one key and one `typ`. The protected header is
/// serialised and base64url-encoded once, at construction, not per token.
public struct JWSSigner: Sendable {
    public let key: JWSKey
    public let typ: String?
    private let headerSegment: [UInt8]

    public init(key: JWSKey, typ: String?) {
        self.key = key
        self.typ = typ
        var header = JSONObject()
        header.appendNew("alg", .string(key.algorithm.rawValue))
        header.appendNew("kid", .string(key.kid))
        if let typ { header.appendNew("typ", .string(typ)) }
        var segment: [UInt8] = []
        Base64URL.encode(JSON.serialize(.object(header)), into: &segment)
        headerSegment = segment
    }

    /// Signs a payload that is already serialised JSON.
    public func sign(payload: [UInt8]) throws(JOSEError) -> String {
        var token = headerSegment
        token.reserveCapacity(headerSegment.count + Base64URL.encodedCount(payload.count) + 2 + 350)
        token.append(UInt8(ascii: "."))
        Base64URL.encode(payload, into: &token)
        let signature = try key.sign(token)
        token.append(UInt8(ascii: "."))
        Base64URL.encode(signature, into: &token)
        return String(decoding: token, as: UTF8.self)
    }

    public func sign(claims: JSONObject) throws(JOSEError) -> String {
        try sign(payload: JSON.serialize(.object(claims)))
    }
}
