import Claims
import JOSE
import JSONCore
import OAuthWire
import Pipeline

/// The parsers of client input, each as a fuzz target: bytes in, no trap, and where a parser has an
/// inverse, the round trip holds. `FUZZ_TARGET` names the target under libFuzzer (`make fuzz`); the
/// replay entry point (a plain build) runs files through the same functions.
enum FuzzTargets {
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "jws": jws, "json": json, "form": form, "dpop": dpop, "assertion": assertion, "jwk": jwk, "wire": wire, "forwarded": forwarded,
    ]

    /// Keys of every family, made once (an HMAC key, and public keys of the fixed test vectors).
    static let keys: KeySet = {
        var keys: [JWSKey] = []
        if let hs = try? JWSKey(secret: Array("fuzzing-secret-0123456789abcdef0123".utf8), algorithm: .HS256, kid: "hs") { keys.append(hs) }
        for (alg, make) in [(JWSAlgorithm.ES256, { try EVPKey.generateEC(curve: "P-256") }), (.EdDSA, { try EVPKey.generateEd25519() })] {
            if let evp = try? make(), let key = try? JWSKey(evp: evp, algorithm: alg, kid: alg.rawValue) { keys.append(key) }
        }
        return KeySet(keys)
    }()
    static let dpopKeys = DPoPKeyCache(capacity: 64)
    static let now: Int64 = 1_800_000_000

    /// Compact JWS parsing and verification, with the claims then checked as a token of ours.
    static func jws(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        if let verified = try? JWSVerifier(keys: keys).verify(text) {
            _ = try? ClaimValidator.token(issuer: "https://issuer.example", audiences: ["api"]).validate(verified.claims, now: now)
        }
    }

    /// JSON text (Jansson): what parses serialises, and parses back to the same value.
    static func json(_ data: [UInt8]) {
        guard let value = try? JSON.parse(data) else { return }
        let text = JSON.serialize(value)
        guard let again = try? JSON.parse(text) else { fatalError("serialised JSON does not parse: \(String(decoding: text, as: UTF8.self))") }
        precondition(again == value, "JSON round trip changed the value")
    }

    /// `Forwarded` and `X-Forwarded-For` lines (each line of the input one header line) from a trusted proxy:
    /// the client address is an address, the peer's or one of the hops'.
    static func forwarded(_ data: [UInt8]) {
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        let proxies = TrustedProxies(ranges: ["127.0.0.0/8", "10.0.0.0/8", "fd00::/8"].compactMap { CIDR($0) })
        for (forwarded, forwardedFor) in [(lines, [String]()), ([], lines)] {
            let client = proxies.clientAddress(peer: "127.0.0.1", forwarded: forwarded, forwardedFor: forwardedFor)
            precondition(IPAddress(client) != nil, "the client address is an address")
        }
        for line in lines { _ = CIDR(line) }
    }

    /// A token-endpoint form body and an Authorization: Basic value.
    static func form(_ data: [UInt8]) {
        if let form = try? FormParameters(body: data) {
            for (k, v) in form.values { precondition(form[k] == v) }
        }
        _ = BasicCredentials.parse("Basic " + String(decoding: data, as: UTF8.self))
        _ = BasicCredentials.decodeBase64(data)
        _ = OAuthSyntax.isScopeToken(String(decoding: data, as: UTF8.self))
    }

    /// A DPoP proof at the token endpoint and at a resource, and htu normalisation.
    static func dpop(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        _ = try? DPoPProof.verify(text, method: "POST", normalizedURL: "https://as.example/oauth/token", now: now, keys: dpopKeys)
        _ = try? DPoPProof.verify(text, method: "GET", normalizedURL: "https://api.example/me", accessTokenHash: .of(token: "a.b.c"), now: now,
                                  keys: dpopKeys)
        if let url = DPoPProof.normalize(text) { precondition(DPoPProof.normalize(url) == url, "normalisation is idempotent") }
    }

    /// A private_key_jwt assertion's claims, as any JSON a client can sign: the checks decide without trapping.
    static func assertion(_ data: [UInt8]) {
        guard let claims = (try? JSON.parse(data))?.objectValue else { return }
        let checks = ClaimValidator([IssuerCheck(issuer: "batch"), EqualsCheck("sub", "batch"), AudienceCheck(accepted: ["https://as.example/oauth/token"]),
                                     ExpirationCheck(maxLifetime: 3600), NotBeforeCheck(), RequiredStringCheck("jti"), IssuedAtWindowCheck(window: 60)])
        _ = try? checks.validate(claims, now: now)
        for name in ["exp", "nbf", "iat"] { _ = try? NumericDate.read(name, in: claims) }
    }

    /// A JWK or JWKS (client registrations, DPoP proof keys, fetched key sets).
    static func jwk(_ data: [UInt8]) {
        guard let value = try? JSON.parse(data) else { return }
        if let jwk = try? JWK(json: value) {
            _ = try? jwk.thumbprint()
            _ = try? JWSKey(jwk: jwk)
        }
        if let set = try? JWKS(json: value) { for jwk in set.keys { _ = try? JWSKey(jwk: jwk) } }
    }

    /// A pipeline wire frame as either side decodes it: framing, the message line, a run header (which
    /// encodes back to itself) and a run body.
    static func wire(_ data: [UInt8]) {
        _ = Wire.frameLength(data)
        guard let message = Wire.Message(data[...]) else { return }
        if let header = Wire.RunHeader(words: message.words) {
            let encoded = header.encodedWords()
            let words = encoded.split(separator: 0x20)
            precondition(Wire.RunHeader(words: Array(words)) == header, "a run header encodes back to itself")
        }
        _ = Wire.runBody(message.body)
        _ = Wire.RunReply(json: message.body)
        _ = Wire.OutboundRequest(json: message.body)
        if let load = Wire.LoadRequest(json: message.body) {
            precondition(Wire.LoadRequest(json: load.json)?.functions.count == load.functions.count, "a load request encodes back")
        }
        if let reply = Wire.LoadReply(json: message.body) { precondition(Wire.LoadReply(json: reply.json) == reply, "a load reply encodes back") }
    }
}
