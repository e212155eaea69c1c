/// Keys by `kid`: chooses the verifier for a token, and the signer by name.
public struct KeySet: Sendable {
    public let keys: [JWSKey]
    private let byKid: [String: JWSKey]

    public init(_ keys: [JWSKey]) {
        self.keys = keys
        var map: [String: JWSKey] = [:]
        for key in keys where map[key.kid] == nil { map[key.kid] = key }
        byKid = map
    }

    public subscript(kid: String) -> JWSKey? { byKid[kid] }

    /// The public JWKS: asymmetric keys only; HMAC secrets never appear.
    public var publicJWKS: JWKS { JWKS(keys: keys.compactMap(\.publicJWK)) }
}
