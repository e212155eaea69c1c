internal import COpenSSL

/// Owns one OpenSSL `EVP_PKEY` (RSA, EC or Ed25519; private or public-only), freed in `deinit`.
/// Immutable after construction: OpenSSL allows concurrent signing and verifying with a shared key.
package final class EVPKey: @unchecked Sendable {
    package enum KeyType: Sendable, Equatable { case rsa, ec(curve: String), ed25519 }

    let pkey: OpaquePointer
    package let type: KeyType
    package let isPrivate: Bool

    init(taking pkey: OpaquePointer, isPrivate: Bool) throws(JOSEError) {
        self.pkey = pkey
        self.isPrivate = isPrivate
        if EVP_PKEY_is_a(pkey, "RSA") == 1 {
            type = .rsa
        } else if EVP_PKEY_is_a(pkey, "EC") == 1 {
            var name = [CChar](repeating: 0, count: 64)
            var len = 0
            guard EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, &name, name.count, &len) == 1 else {
                EVP_PKEY_free(pkey)
                throw JOSEError.openSSL("EVP_PKEY_get_utf8_string_param(group)")
            }
            type = .ec(curve: String(decoding: name.prefix(len).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        } else if EVP_PKEY_is_a(pkey, "ED25519") == 1 {
            type = .ed25519
        } else {
            EVP_PKEY_free(pkey)
            throw JOSEError.invalidKey("key type is not RSA, EC or Ed25519")
        }
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Size in bits (RSA modulus, EC field, 253 for Ed25519).
    package var bits: Int { Int(EVP_PKEY_get_bits(pkey)) }

    // MARK: PEM

    /// Loads a private key from PEM: PKCS#8, PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    package static func privateKey(pem: [UInt8]) throws(JOSEError) -> EVPKey {
        try readPEM(pem, isPrivate: true)
    }

    /// Loads a public key from PEM (`PUBLIC KEY`, SubjectPublicKeyInfo).
    package static func publicKey(pem: [UInt8]) throws(JOSEError) -> EVPKey {
        try readPEM(pem, isPrivate: false)
    }

    private static func readPEM(_ pem: [UInt8], isPrivate: Bool) throws(JOSEError) -> EVPKey {
        let pkey: OpaquePointer? = pem.withUnsafeBytes { raw in
            guard let bio = ts_BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return isPrivate ? PEM_read_bio_PrivateKey(bio, nil, nil, nil) : PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let pkey else {
            ERR_clear_error()
            throw JOSEError.invalidKey(isPrivate ? "not a PEM private key (PKCS#8, PKCS#1 or SEC1)" : "not a PEM public key")
        }
        return try EVPKey(taking: pkey, isPrivate: isPrivate)
    }

    /// PKCS#8 PEM of the private key (for `keys generate`).
    package func privateKeyPEM() throws(JOSEError) -> String {
        guard isPrivate else { throw JOSEError.invalidKey("public key has no private part") }
        return try writePEM { PEM_write_bio_PrivateKey($0, pkey, nil, nil, 0, nil, nil) }
    }

    /// SubjectPublicKeyInfo PEM of the public key.
    package func publicKeyPEM() throws(JOSEError) -> String {
        try writePEM { PEM_write_bio_PUBKEY($0, pkey) }
    }

    private func writePEM(_ write: (OpaquePointer) -> Int32) throws(JOSEError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw JOSEError.openSSL("BIO_new") }
        defer { BIO_free(bio) }
        try check(write(bio), "PEM_write_bio")
        var ptr: UnsafeMutablePointer<CChar>?
        let len = ts_BIO_get_mem_data(bio, &ptr)
        guard let ptr, len > 0 else { throw JOSEError.openSSL("BIO_get_mem_data") }
        return String(decoding: UnsafeRawBufferPointer(start: ptr, count: len), as: UTF8.self)
    }

    // MARK: Generation

    package static func generateRSA(bits: Int = 2048) throws(JOSEError) -> EVPKey {
        try generate("RSA") { ctx throws(JOSEError) in
            try check(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(bits)), "EVP_PKEY_CTX_set_rsa_keygen_bits")
        }
    }

    package static func generateEC(curve: String) throws(JOSEError) -> EVPKey {
        try generate("EC") { ctx throws(JOSEError) in
            try check(EVP_PKEY_CTX_set_group_name(ctx, curve), "EVP_PKEY_CTX_set_group_name")
        }
    }

    package static func generateEd25519() throws(JOSEError) -> EVPKey {
        try generate("ED25519") { _ throws(JOSEError) in }
    }

    private static func generate(
        _ name: String, configure: (OpaquePointer) throws(JOSEError) -> Void
    ) throws(JOSEError) -> EVPKey {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, name, nil) else { throw JOSEError.openSSL("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(ctx) }
        try check(EVP_PKEY_keygen_init(ctx), "EVP_PKEY_keygen_init")
        try configure(ctx)
        var pkey: OpaquePointer?
        try check(EVP_PKEY_generate(ctx, &pkey), "EVP_PKEY_generate")
        guard let pkey else { throw JOSEError.openSSL("EVP_PKEY_generate") }
        return try EVPKey(taking: pkey, isPrivate: true)
    }

    // MARK: Public parameters (JWK export)

    func bigNumParam(_ name: String) throws(JOSEError) -> [UInt8] {
        var bn: OpaquePointer?
        try check(EVP_PKEY_get_bn_param(pkey, name, &bn), "EVP_PKEY_get_bn_param(\(name))")
        guard let bn else { throw JOSEError.openSSL("EVP_PKEY_get_bn_param(\(name))") }
        defer { BN_free(bn) }
        let n = Int((BN_num_bits(bn) + 7) / 8)
        return [UInt8](unsafeUninitializedCapacity: max(n, 1)) { buf, count in
            count = Int(BN_bn2bin(bn, buf.baseAddress))
        }
    }

    /// EC public point coordinates, each left-padded to the curve's size.
    func ecCoordinates(size: Int) throws(JOSEError) -> (x: [UInt8], y: [UInt8]) {
        var point = [UInt8](repeating: 0, count: 1 + 2 * size + 8)
        var len = 0
        try check(
            EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, &point, point.count, &len),
            "EVP_PKEY_get_octet_string_param(pub)")
        guard len == 1 + 2 * size, point[0] == 0x04 else { throw JOSEError.invalidKey("EC public point is not uncompressed") }
        return (Array(point[1...size]), Array(point[(1 + size)...(2 * size)]))
    }

    func rawPublicKey() throws(JOSEError) -> [UInt8] {
        var len = 0
        try check(EVP_PKEY_get_raw_public_key(pkey, nil, &len), "EVP_PKEY_get_raw_public_key")
        var out = [UInt8](repeating: 0, count: len)
        try check(EVP_PKEY_get_raw_public_key(pkey, &out, &len), "EVP_PKEY_get_raw_public_key")
        return Array(out.prefix(len))
    }

    // MARK: Public key import (JWK)

    package static func rsaPublicKey(modulus n: [UInt8], exponent e: [UInt8]) throws(JOSEError) -> EVPKey {
        guard !n.isEmpty, !e.isEmpty else { throw JOSEError.invalidKey("RSA n and e are required") }
        guard let bld = OSSL_PARAM_BLD_new() else { throw JOSEError.openSSL("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(bld) }
        let bnN = BN_bin2bn(n, Int32(n.count), nil)
        let bnE = BN_bin2bn(e, Int32(e.count), nil)
        defer { BN_free(bnN); BN_free(bnE) }
        try check(OSSL_PARAM_BLD_push_BN(bld, ts_PARAM_RSA_N(), bnN), "OSSL_PARAM_BLD_push_BN(n)")
        try check(OSSL_PARAM_BLD_push_BN(bld, ts_PARAM_RSA_E(), bnE), "OSSL_PARAM_BLD_push_BN(e)")
        return try fromData("RSA", bld)
    }

    package static func ecPublicKey(curve: String, x: [UInt8], y: [UInt8], coordinateSize: Int) throws(JOSEError) -> EVPKey {
        guard x.count == coordinateSize, y.count == coordinateSize else {
            throw JOSEError.invalidKey("EC coordinates must be \(coordinateSize) bytes")
        }
        guard let bld = OSSL_PARAM_BLD_new() else { throw JOSEError.openSSL("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(bld) }
        let point: [UInt8] = [0x04] + x + y
        // The builder references (does not copy) string and octet buffers until it builds the
        // parameters, so both must stay alive across `fromData`.
        let built: Result<EVPKey, JOSEError> = curve.withCString { name in
            point.withUnsafeBufferPointer { pt in
                Result { () throws(JOSEError) -> EVPKey in
                    try check(OSSL_PARAM_BLD_push_utf8_string(bld, ts_PARAM_GROUP_NAME(), name, 0), "OSSL_PARAM_BLD_push_utf8_string")
                    try check(OSSL_PARAM_BLD_push_octet_string(bld, ts_PARAM_PUB_KEY(), pt.baseAddress, pt.count), "OSSL_PARAM_BLD_push_octet_string")
                    return try fromData("EC", bld)
                }
            }
        }
        let key = try built.get()
        // fromdata does not check that the point lies on the curve; a bogus point must not import.
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, key.pkey, nil) else { throw JOSEError.openSSL("EVP_PKEY_CTX_new_from_pkey") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_public_check(ctx) == 1 else {
            ERR_clear_error()
            throw JOSEError.invalidKey("EC point is not on the curve")
        }
        return key
    }

    package static func ed25519PublicKey(_ raw: [UInt8]) throws(JOSEError) -> EVPKey {
        guard raw.count == 32 else { throw JOSEError.invalidKey("Ed25519 public key must be 32 bytes") }
        guard let pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, raw, raw.count) else {
            throw JOSEError.openSSL("EVP_PKEY_new_raw_public_key")
        }
        return try EVPKey(taking: pkey, isPrivate: false)
    }

    /// An RSA private key from its JWK parameters n, e, d (RFC 7518 §6.3.2; CRT parameters optional).
    package static func rsaPrivateKey(modulus n: [UInt8], publicExponent e: [UInt8], privateExponent d: [UInt8]) throws(JOSEError) -> EVPKey {
        guard let bld = OSSL_PARAM_BLD_new() else { throw JOSEError.openSSL("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(bld) }
        let parts: [[UInt8]] = [n, e, d]
        let bns = parts.map { part in part.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) } }
        defer { bns.forEach { BN_clear_free($0) } }
        for (name, bn) in zip([ts_PARAM_RSA_N(), ts_PARAM_RSA_E(), ts_PARAM_RSA_D()], bns) {
            try check(OSSL_PARAM_BLD_push_BN(bld, name, bn), "OSSL_PARAM_BLD_push_BN")
        }
        return try fromData("RSA", bld, selection: ts_EVP_PKEY_KEYPAIR())
    }

    /// An Ed25519 private key from its 32-byte seed (JWK `d`, RFC 8037 §2).
    package static func ed25519PrivateKey(_ seed: [UInt8]) throws(JOSEError) -> EVPKey {
        guard seed.count == 32 else { throw JOSEError.invalidKey("Ed25519 private key must be 32 bytes") }
        guard let pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, seed.count) else {
            throw JOSEError.openSSL("EVP_PKEY_new_raw_private_key")
        }
        return try EVPKey(taking: pkey, isPrivate: true)
    }

    private static func fromData(_ name: String, _ bld: OpaquePointer, selection: Int32 = ts_EVP_PKEY_PUBLIC_KEY()) throws(JOSEError) -> EVPKey {
        guard let params = OSSL_PARAM_BLD_to_param(bld) else { throw JOSEError.openSSL("OSSL_PARAM_BLD_to_param") }
        defer { OSSL_PARAM_free(params) }
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, name, nil) else { throw JOSEError.openSSL("EVP_PKEY_CTX_new_from_name") }
        defer { EVP_PKEY_CTX_free(ctx) }
        try check(EVP_PKEY_fromdata_init(ctx), "EVP_PKEY_fromdata_init")
        var pkey: OpaquePointer?
        guard EVP_PKEY_fromdata(ctx, &pkey, selection, params) == 1, let pkey else {
            throw JOSEError.openSSL("EVP_PKEY_fromdata(\(name))")
        }
        return try EVPKey(taking: pkey, isPrivate: selection == ts_EVP_PKEY_KEYPAIR())
    }
}
