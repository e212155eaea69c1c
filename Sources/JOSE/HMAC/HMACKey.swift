internal import COpenSSL

/// An HMAC-SHA-2 secret. Keeps a keyed `EVP_MAC_CTX` template; each MAC works on a duplicate of it,
/// so no per-request key schedule and no shared mutable state.
final class HMACKey: @unchecked Sendable {
    private let template: OpaquePointer
    let algorithm: JWSAlgorithm
    private static let mac = MACHandle()

    /// EVP_MAC objects are immutable once fetched and may be shared between threads.
    private struct MACHandle: @unchecked Sendable {
        let mac = EVP_MAC_fetch(nil, "HMAC", nil)
    }

    init(secret: [UInt8], algorithm: JWSAlgorithm) throws(JOSEError) {
        guard algorithm.family == .hmac else { throw JOSEError.unsupportedAlgorithm(algorithm.rawValue) }
        guard secret.count >= algorithm.digest.byteCount else {
            throw JOSEError.invalidKey("\(algorithm.rawValue) needs a secret of at least \(algorithm.digest.byteCount) bytes")
        }
        guard let mac = Self.mac.mac, let ctx = EVP_MAC_CTX_new(mac) else { throw JOSEError.openSSL("EVP_MAC_CTX_new") }
        var digestName = Array(algorithm.digest.rawValue.utf8CString)
        let ok: Int32 = digestName.withUnsafeMutableBufferPointer { name in
            var params = [
                OSSL_PARAM_construct_utf8_string(ts_PARAM_MAC_DIGEST(), name.baseAddress, 0),
                OSSL_PARAM_construct_end(),
            ]
            return secret.withUnsafeBufferPointer { EVP_MAC_init(ctx, $0.baseAddress, $0.count, &params) }
        }
        guard ok == 1 else {
            EVP_MAC_CTX_free(ctx)
            throw JOSEError.openSSL("EVP_MAC_init")
        }
        self.template = ctx
        self.algorithm = algorithm
    }

    deinit { EVP_MAC_CTX_free(template) }

    func mac(_ data: UnsafeRawBufferPointer) throws(JOSEError) -> [UInt8] {
        guard let ctx = EVP_MAC_CTX_dup(template) else { throw JOSEError.openSSL("EVP_MAC_CTX_dup") }
        defer { EVP_MAC_CTX_free(ctx) }
        try check(EVP_MAC_update(ctx, data.baseAddress, data.count), "EVP_MAC_update")
        var out = [UInt8](repeating: 0, count: 64)
        var len = 0
        try check(EVP_MAC_final(ctx, &out, &len, out.count), "EVP_MAC_final")
        out.removeLast(out.count - len)
        return out
    }

    func verify(_ signature: [UInt8], _ data: UnsafeRawBufferPointer) -> Bool {
        guard let expected = try? mac(data) else { return false }
        return constantTimeEquals(expected, signature)
    }
}
