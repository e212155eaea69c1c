import JOSE
import JSONCore
import Testing

/// Published known-answer vectors: RFC 7515 appendix A.1 (HS256), A.2 (RS256), RFC 8037 A.4 (Ed25519).
@Suite struct RFCVectorTests {
    static let rfc7515Payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

    @Test func rfc7515A1HS256() throws {
        let k = try #require(Base64URL.decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"))
        let key = try JWSKey(secret: k, algorithm: .HS256, kid: "a1")
        let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + Self.rfc7515Payload
        let mac = try key.sign(Array(input.utf8))
        #expect(Base64URL.encode(mac) == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")

        let verified = try JWSVerifier(keys: KeySet([key])).verify(input + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        #expect(verified.claims["iss"] == "joe")
        #expect(verified.claims["exp"] == .int(1_300_819_380))
        #expect(verified.claims["http://example.com/is_root"] == true)
        #expect(throws: JOSEError.signatureInvalid) {
            try JWSVerifier(keys: KeySet([key])).verify(input + ".eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        }
    }

    static let rsaN = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    static let rsaD = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
    static let rs256Signature = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"

    @Test func rfc7515A2RS256DeterministicSignature() throws {
        let evp = try EVPKey.rsaPrivateKey(
            modulus: try #require(Base64URL.decode(Self.rsaN)), publicExponent: [1, 0, 1],
            privateExponent: try #require(Base64URL.decode(Self.rsaD)))
        let key = try JWSKey(evp: evp, algorithm: .RS256, kid: "2011-04-29")
        let input = "eyJhbGciOiJSUzI1NiJ9." + Self.rfc7515Payload
        #expect(Base64URL.encode(try key.sign(Array(input.utf8))) == Self.rs256Signature)

        // The published public JWK verifies it; the exported JWK has exactly the published n and e.
        let publicKey = try JWSKey(jwk: JWK(kty: "RSA", kid: "2011-04-29", alg: "RS256", n: Self.rsaN, e: "AQAB"))
        let verified = try JWSVerifier(keys: KeySet([publicKey])).verify(input + "." + Self.rs256Signature)
        #expect(verified.claims["iss"] == "joe")
        #expect(key.publicJWK?.n == Self.rsaN)
        #expect(key.publicJWK?.e == "AQAB")
    }

    @Test func rfc8037A4Ed25519() throws {
        let seed = try #require(Base64URL.decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
        let key = try JWSKey(evp: try EVPKey.ed25519PrivateKey(seed), algorithm: .EdDSA, kid: "ed")
        #expect(key.publicJWK?.x == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        #expect(Base64URL.encode(try key.sign(Array(input.utf8)))
            == "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
    }

    /// RFC 7638 §3.1: the thumbprint of the RFC 7517 A.1 RSA key.
    @Test func rfc7638Thumbprint() throws {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        let jwk = JWK(kty: "RSA", kid: "2011-04-29", alg: "RS256", n: n, e: "AQAB")
        #expect(try jwk.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test func base64URLIsStrict() {
        #expect(Base64URL.decode("AQAB") == [1, 0, 1])
        #expect(Base64URL.decode("AQAB=") == nil)
        #expect(Base64URL.decode("AQ+B") == nil)
        #expect(Base64URL.decode("A") == nil)
        #expect(Base64URL.decode("AR") == nil)  // non-zero trailing bits
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }
}

/// RFC 4648 §10 vectors in the URL alphabet without padding (RFC 7515 §2), every remainder length.
@Test func base64URLVectors() {
    let vectors: [(String, String)] = [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"),
                                       ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")]
    for (plain, encoded) in vectors {
        #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
        #expect(Base64URL.encode(plain.utf8) == encoded, "non-contiguous input")
        #expect(Base64URL.decode(encoded) == Array(plain.utf8))
    }
    #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
    #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    for bad in ["Z", "Zg==", "Zh", "Zm9v+", "Zm9v/", "Zm 9"] { #expect(Base64URL.decode(bad) == nil, "\(bad)") }
}

/// Encoding appends after what is already there, for every length and byte value, and decodes back.
@Test func base64URLAppendsAndRoundTrips() {
    var bytes: [UInt8] = []
    for n in 0...96 {
        var out = Array("prefix.".utf8)
        Base64URL.encode(bytes, into: &out)
        #expect(out.count == 7 + Base64URL.encodedCount(n))
        #expect(Array(out.prefix(7)) == Array("prefix.".utf8))
        #expect(Base64URL.decode(out.dropFirst(7)) == bytes, "\(n) bytes")
        bytes.append(UInt8(truncatingIfNeeded: n &* 151 &+ 7))
    }
}
