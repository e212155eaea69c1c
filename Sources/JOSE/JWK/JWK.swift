public import JSONCore

/// A JSON Web Key (RFC 7517) as a value: the members this service reads and writes.
/// Parameters are kept base64url-encoded, exactly as they appear in JSON.
public struct JWK: Sendable, Equatable {
    public var kty: String
    public var kid: String?
    public var use: String?
    public var alg: String?
    public var n: String?
    public var e: String?
    public var crv: String?
    public var x: String?
    public var y: String?
    /// Symmetric key value (`oct`). Only ever read from input; never written to a JWKS.
    public var k: String?

    public init(kty: String, kid: String? = nil, use: String? = nil, alg: String? = nil,
                n: String? = nil, e: String? = nil, crv: String? = nil, x: String? = nil, y: String? = nil, k: String? = nil) {
        self.kty = kty; self.kid = kid; self.use = use; self.alg = alg
        self.n = n; self.e = e; self.crv = crv; self.x = x; self.y = y; self.k = k
    }

    /// Members that hold a private or secret key (RFC 7518 §6.2.2, §6.3.2, §6.4.1): never in a JWK read
    /// from a client, a proof or a JWKS, never in one we publish.
    public static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// A public JWK: one with a private or secret member is refused.
    public init(json: JSONValue) throws(JOSEError) {
        guard let o = json.objectValue else { throw JOSEError.invalidKey("a JWK must be a JSON object") }
        func member(_ name: String) throws(JOSEError) -> String? {
            guard let v = o[name] else { return nil }
            guard let s = v.stringValue else { throw JOSEError.invalidKey("JWK member \(name) must be a string") }
            return s
        }
        guard let kty = try member("kty") else { throw JOSEError.invalidKey("JWK has no kty") }
        if o.keys.contains(where: Self.privateMembers.contains) { throw JOSEError.invalidKey("a JWK read here must be a public key") }
        self.init(kty: kty, kid: try member("kid"), use: try member("use"), alg: try member("alg"),
                  n: try member("n"), e: try member("e"), crv: try member("crv"), x: try member("x"), y: try member("y"),
                  k: try member("k"))
    }

    /// The public JWK as JSON, members in a stable order; `k` is never included.
    public var json: JSONValue {
        var o = JSONObject()
        o.appendNew("kty", .string(kty))
        for (name, value) in [("kid", kid), ("use", use), ("alg", alg), ("n", n), ("e", e), ("crv", crv), ("x", x), ("y", y)] {
            if let value { o.appendNew(name, .string(value)) }
        }
        return .object(o)
    }

    /// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, base64url.
    public func thumbprint() throws(JOSEError) -> String {
        let required: [(String, String?)]
        switch kty {
        case "RSA": required = [("e", e), ("kty", kty), ("n", n)]
        case "EC": required = [("crv", crv), ("kty", kty), ("x", x), ("y", y)]
        case "OKP": required = [("crv", crv), ("kty", kty), ("x", x)]
        case "oct": required = [("k", k), ("kty", kty)]
        default: throw JOSEError.invalidKey("unknown kty \(kty)")
        }
        var o = JSONObject()
        for (name, value) in required {
            guard let value else { throw JOSEError.invalidKey("JWK lacks \(name)") }
            o.appendNew(name, .string(value))
        }
        return Base64URL.encode(try Digest.hash(.sha256, JSON.serialize(.object(o))))
    }
}

/// A JWK Set (RFC 7517 §5).
public struct JWKS: Sendable, Equatable {
    public var keys: [JWK]
    public init(keys: [JWK]) { self.keys = keys }

    /// A set of public JWKs: a key with a private or secret member is refused (`JWK.privateMembers`).
    public init(json: JSONValue) throws(JOSEError) {
        guard let array = json.objectValue?["keys"]?.arrayValue else { throw JOSEError.invalidKey("a JWKS needs a keys array") }
        var keys: [JWK] = []
        for item in array { keys.append(try JWK(json: item)) }
        self.keys = keys
    }

    public var json: JSONValue { .object(JSONObject([("keys", .array(keys.map(\.json)))])) }
}
