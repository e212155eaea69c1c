internal import COpenSSL

/// RSASSA-PKCS1-v1_5, RSASSA-PSS, ECDSA and Ed25519 through `EVP_DigestSign` / `EVP_DigestVerify`.
/// For the hash-then-sign algorithms an initialised `EVP_MD_CTX` is kept as a template for signing (private
/// keys) and one for verifying, each copied per operation, which skips the algorithm fetch and key set-up
/// on the hot path. The templates are never changed after `init`.
final class AsymmetricSigner: @unchecked Sendable {
    let key: EVPKey
    let algorithm: JWSAlgorithm
    private let signTemplate: OpaquePointer?
    private let verifyTemplate: OpaquePointer?

    init(key: EVPKey, algorithm: JWSAlgorithm) throws(JOSEError) {
        switch (algorithm.family, key.type) {
        case (.rsaPKCS1, .rsa), (.rsaPSS, .rsa):
            guard key.bits >= 2048 else { throw JOSEError.invalidKey("RSA keys must be at least 2048 bits, got \(key.bits)") }
        case (.ecdsa, .ec(let curve)):
            guard curve == algorithm.curve?.openSSL || (curve == "prime256v1" && algorithm == .ES256)
                || (curve == "secp384r1" && algorithm == .ES384)
            else { throw JOSEError.invalidKey("\(algorithm.rawValue) needs curve \(algorithm.curve?.jwk ?? "?"), key is \(curve)") }
        case (.eddsa, .ed25519):
            break
        default:
            throw JOSEError.invalidKey("key type does not fit \(algorithm.rawValue)")
        }
        self.key = key
        self.algorithm = algorithm
        let verifyTemplate = try Self.template(key: key, algorithm: algorithm, sign: false)
        do {
            signTemplate = key.isPrivate ? try Self.template(key: key, algorithm: algorithm, sign: true) : nil
        } catch {
            if let verifyTemplate { EVP_MD_CTX_free(verifyTemplate) }
            throw error
        }
        self.verifyTemplate = verifyTemplate
    }

    deinit {
        if let signTemplate { EVP_MD_CTX_free(signTemplate) }
        if let verifyTemplate { EVP_MD_CTX_free(verifyTemplate) }
    }

    /// An initialised context to copy per operation; nil for EdDSA (one-shot only) or when OpenSSL cannot
    /// allocate one now (each operation then initialises its own).
    private static func template(key: EVPKey, algorithm: JWSAlgorithm, sign: Bool) throws(JOSEError) -> OpaquePointer? {
        guard algorithm.family != .eddsa, let ctx = EVP_MD_CTX_new() else { return nil }
        do { try initialise(ctx, key: key, algorithm: algorithm, sign: sign) } catch {
            EVP_MD_CTX_free(ctx)
            throw error
        }
        return ctx
    }

    private static func initialise(_ ctx: OpaquePointer, key: EVPKey, algorithm: JWSAlgorithm, sign: Bool) throws(JOSEError) {
        var pctx: OpaquePointer?
        let md = algorithm.family == .eddsa ? nil : algorithm.digest.md
        let rc = sign
            ? EVP_DigestSignInit(ctx, &pctx, md, nil, key.pkey)
            : EVP_DigestVerifyInit(ctx, &pctx, md, nil, key.pkey)
        try check(rc, sign ? "EVP_DigestSignInit" : "EVP_DigestVerifyInit")
        if algorithm.family == .rsaPSS {
            try check(ts_EVP_PKEY_CTX_set_rsa_padding(pctx, ts_RSA_PKCS1_PSS_PADDING()), "EVP_PKEY_CTX_set_rsa_padding")
            try check(ts_EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, ts_RSA_PSS_SALTLEN_DIGEST()), "EVP_PKEY_CTX_set_rsa_pss_saltlen")
        }
    }

    func sign(_ data: UnsafeRawBufferPointer) throws(JOSEError) -> [UInt8] {
        guard key.isPrivate else { throw JOSEError.invalidKey("cannot sign with a public key") }
        guard let ctx = EVP_MD_CTX_new() else { throw JOSEError.openSSL("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(ctx) }
        var signature = [UInt8](repeating: 0, count: Int(EVP_PKEY_get_size(key.pkey)))
        var len = signature.count
        if let signTemplate {
            try check(EVP_MD_CTX_copy_ex(ctx, signTemplate), "EVP_MD_CTX_copy_ex")
            try check(EVP_DigestSignUpdate(ctx, data.baseAddress, data.count), "EVP_DigestSignUpdate")
            try check(EVP_DigestSignFinal(ctx, &signature, &len), "EVP_DigestSignFinal")
        } else {
            try Self.initialise(ctx, key: key, algorithm: algorithm, sign: true)
            try check(EVP_DigestSign(ctx, &signature, &len, data.baseAddress, data.count), "EVP_DigestSign")
        }
        signature.removeLast(signature.count - len)
        if let curve = algorithm.curve {
            return try ECDSASignature.rawFromDER(signature, coordinateSize: curve.coordinateSize)
        }
        return signature
    }

    func verify(_ signature: [UInt8], _ data: UnsafeRawBufferPointer) -> Bool {
        var sig = signature
        if let curve = algorithm.curve {
            guard let der = ECDSASignature.derFromRaw(signature, coordinateSize: curve.coordinateSize) else { return false }
            sig = der
        }
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx); ERR_clear_error() }
        if let verifyTemplate {
            return EVP_MD_CTX_copy_ex(ctx, verifyTemplate) == 1 && EVP_DigestVerifyUpdate(ctx, data.baseAddress, data.count) == 1
                && EVP_DigestVerifyFinal(ctx, sig, sig.count) == 1
        }
        guard (try? Self.initialise(ctx, key: key, algorithm: algorithm, sign: false)) != nil else { return false }
        return EVP_DigestVerify(ctx, sig, sig.count, data.baseAddress, data.count) == 1
    }
}
