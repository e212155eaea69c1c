import Foundation
import JOSE
import JSONCore
import Testing

/// Sign with our code, verify with the `openssl` command line (and the reverse where it applies).
@Suite struct RoundTripTests {
    static func generated(_ alg: JWSAlgorithm) throws -> JWSKey {
        switch alg.family {
        case .hmac: return try JWSKey(secret: secureRandomBytes(alg.digest.byteCount), algorithm: alg, kid: "h")
        case .rsaPKCS1, .rsaPSS: return try JWSKey(evp: try EVPKey.generateRSA(bits: 2048), algorithm: alg)
        case .ecdsa: return try JWSKey(evp: try EVPKey.generateEC(curve: alg.curve!.openSSL), algorithm: alg)
        case .eddsa: return try JWSKey(evp: try EVPKey.generateEd25519(), algorithm: alg)
        }
    }

    @Test(arguments: JWSAlgorithm.allCases)
    func signVerifyAndJWKImport(alg: JWSAlgorithm) throws {
        let key = try Self.generated(alg)
        let signer = JWSSigner(key: key, typ: "JWT")
        let token = try signer.sign(claims: JSONObject([("sub", "alice"), ("n", 1)]))
        let verified = try JWSVerifier(keys: KeySet([key])).verify(token)
        #expect(verified.claims["sub"] == "alice")
        #expect(verified.header["typ"] == "JWT")
        #expect(verified.header["kid"] == .string(key.kid))

        // Tampering with the payload breaks the signature.
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = Base64URL.encode(Array(#"{"sub":"mallory","n":1}"#.utf8))
        #expect(throws: JOSEError.signatureInvalid) { try JWSVerifier(keys: KeySet([key])).verify(parts.joined(separator: ".")) }

        guard let jwk = key.publicJWK else {
            #expect(alg.isSymmetric)
            return
        }
        #expect(jwk.use == "sig")
        #expect(jwk.alg == alg.rawValue)
        let imported = try JWSKey(jwk: jwk)
        #expect(!imported.canSign)
        #expect(try JWSVerifier(keys: KeySet([imported])).verify(token).claims["n"] == 1)
    }

    @Test(arguments: [JWSAlgorithm.ES256, .ES384])
    func ecdsaSignaturesAreRawAndOpenSSLVerifies(alg: JWSAlgorithm) throws {
        let evp = try EVPKey.generateEC(curve: alg.curve!.openSSL)
        let key = try JWSKey(evp: evp, algorithm: alg)
        let input = Array("header.payload".utf8)
        let signature = try key.sign(input)
        #expect(signature.count == 2 * alg.curve!.coordinateSize)
        try OpenSSLCLI.verifyECDSA(publicPEM: try evp.publicKeyPEM(), raw: signature, data: input, digest: alg.digest.rawValue)
    }

    @Test func ps256OpenSSLVerifies() throws {
        let evp = try EVPKey.generateRSA()
        let key = try JWSKey(evp: evp, algorithm: .PS256)
        let input = Array("header.payload".utf8)
        let a = try key.sign(input), b = try key.sign(input)
        #expect(a != b, "PSS is randomised")
        try OpenSSLCLI.verify(publicPEM: try evp.publicKeyPEM(), signature: a, data: input,
                              extra: ["-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"])
    }

    @Test func pemFormatsLoad() throws {
        // PKCS#1 and SEC1 written by the openssl CLI, PKCS#8 by us.
        for (args, alg) in [(["genrsa", "-traditional", "2048"], JWSAlgorithm.RS256),
                            (["ecparam", "-name", "prime256v1", "-genkey", "-noout"], .ES256)] {
            let pem = try OpenSSLCLI.run(args)
            #expect(pem.contains("RSA PRIVATE KEY") || pem.contains("EC PRIVATE KEY"))
            let key = try JWSKey(privateKeyPEM: Array(pem.utf8), algorithm: alg)
            let pkcs8 = try EVPKey.privateKey(pem: Array(pem.utf8)).privateKeyPEM()
            #expect(pkcs8.hasPrefix("-----BEGIN PRIVATE KEY-----"))
            #expect(key.kid == (try key.publicJWK!.thumbprint()))
        }
    }

    @Test func weakAndMismatchedKeysAreRefused() throws {
        #expect(throws: JOSEError.self) { try JWSKey(secret: Array(repeating: 1, count: 31), algorithm: .HS256, kid: "x") }
        #expect(throws: JOSEError.self) { try JWSKey(secret: Array(repeating: 1, count: 48), algorithm: .HS512, kid: "x") }
        #expect(throws: JOSEError.self) { try JWSKey(evp: try EVPKey.generateRSA(bits: 1024), algorithm: .RS256) }
        #expect(throws: JOSEError.self) { try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES384) }
        #expect(throws: JOSEError.self) { try JWSKey(evp: try EVPKey.generateEd25519(), algorithm: .RS256) }
        #expect(throws: JOSEError.self) { try EVPKey.privateKey(pem: Array("not a key".utf8)) }
    }
}

/// Runs the `openssl` command line: an independent implementation for round-trip checks.
enum OpenSSLCLI {
    struct Failure: Error { let message: String }

    @discardableResult
    static func run(_ args: [String], stdin: [UInt8]? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + args
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin)) }
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(message: String(decoding: data + errData, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func verify(publicPEM: String, signature: [UInt8], data: [UInt8], extra: [String]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jose-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pub = dir.appendingPathComponent("pub.pem"), sig = dir.appendingPathComponent("sig.bin")
        try Data(publicPEM.utf8).write(to: pub)
        try Data(signature).write(to: sig)
        let out = try run(["dgst"] + extra + ["-verify", pub.path, "-signature", sig.path], stdin: data)
        #expect(out.contains("Verified OK"))
    }

    /// Converts R‖S to DER with `openssl asn1parse -genconf` and verifies.
    static func verifyECDSA(publicPEM: String, raw: [UInt8], data: [UInt8], digest: String) throws {
        let half = raw.count / 2
        func hex(_ b: ArraySlice<UInt8>) -> String { b.map { String(format: "%02X", $0) }.joined() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jose-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let conf = dir.appendingPathComponent("sig.conf"), der = dir.appendingPathComponent("sig.der")
        try Data("asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x\(hex(raw[..<half]))\ns=INTEGER:0x\(hex(raw[half...]))\n".utf8).write(to: conf)
        try run(["asn1parse", "-genconf", conf.path, "-out", der.path, "-noout"])
        try verify(publicPEM: publicPEM, signature: Array(try Data(contentsOf: der)), data: data, extra: ["-" + digest.lowercased()])
    }
}
