import JOSE
import JSONCore
import Testing

@Suite struct VerifierStrictnessTests {
    static func token(header: String, payload: String, signature: [UInt8] = [1, 2, 3]) -> String {
        Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8)) + "." + Base64URL.encode(signature)
    }

    @Test func algNoneIsRefused() throws {
        let key = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "k")
        let t = Base64URL.encode(Array(#"{"alg":"none","kid":"k"}"#.utf8)) + "." + Base64URL.encode(Array("{}".utf8)) + "."
        #expect(throws: JOSEError.unsupportedAlgorithm("none")) { try JWSVerifier(keys: KeySet([key])).verify(t) }
    }

    /// The classic confusion attack: HS256 "signed" with the RSA public key's bytes.
    @Test func hmacWithAPublicKeyIsRefused() throws {
        let evp = try EVPKey.generateRSA()
        let rsa = try JWSKey(evp: evp, algorithm: .RS256, kid: "rs")
        let pem = Array(try evp.publicKeyPEM().utf8)
        let forger = try JWSKey(secret: pem, algorithm: .HS256, kid: "rs")
        let forged = try JWSSigner(key: forger, typ: "JWT").sign(claims: JSONObject([("sub", "admin")]))
        #expect(throws: JOSEError.algorithmMismatch(expected: "RS256", got: "HS256")) {
            try JWSVerifier(keys: KeySet([rsa])).verify(forged)
        }
        // A public-only JWK import never accepts HS* either.
        let pub = try JWSKey(jwk: rsa.publicJWK!)
        #expect(!pub.acceptedAlgorithms.contains(.HS256))
    }

    @Test func critAndDuplicatesAndGarbageAreRefused() throws {
        let key = try JWSKey(secret: Array(repeating: 7, count: 32), algorithm: .HS256, kid: "k")
        let signer = JWSSigner(key: key, typ: nil)
        let good = try signer.sign(payload: Array(#"{"a":1}"#.utf8))
        let verifier = JWSVerifier(keys: KeySet([key]))
        #expect(try verifier.verify(good).claims["a"] == 1)

        func signed(header: String, payload: String) throws -> String {
            let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
            return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
        }
        #expect(throws: JOSEError.self) { try verifier.verify(try signed(header: #"{"alg":"HS256","kid":"k","crit":["exp"]}"#, payload: "{}")) }
        #expect(throws: JOSEError.self) { try verifier.verify(try signed(header: #"{"alg":"HS256","alg":"HS256"}"#, payload: "{}")) }
        #expect(throws: JOSEError.self) { try verifier.verify(try signed(header: #"{"alg":"HS256"}"#, payload: #"{"a":1,"a":2}"#)) }
        #expect(throws: JOSEError.self) { try verifier.verify(try signed(header: #"{"alg":"HS256"}"#, payload: "[1]")) }
        #expect(throws: JOSEError.self) { try verifier.verify("a.b") }
        #expect(throws: JOSEError.self) { try verifier.verify("a.b.c.d") }
        #expect(throws: JOSEError.self) { try verifier.verify(String(repeating: "a", count: 20_000)) }
        #expect(throws: JOSEError.unknownKey("other")) { try verifier.verify(Self.token(header: #"{"alg":"HS256","kid":"other"}"#, payload: "{}")) }
    }
}
