internal import COpenSSL

/// SHA-2 digests through OpenSSL EVP, with the `EVP_MD` fetched once per algorithm.
public enum Digest {
    public enum Algorithm: String, Sendable {
        case sha256 = "SHA256", sha384 = "SHA384", sha512 = "SHA512"
        public var byteCount: Int {
            switch self {
            case .sha256: return 32
            case .sha384: return 48
            case .sha512: return 64
            }
        }
        /// The pre-fetched message digest (fetched once, never freed: process lifetime).
        var md: OpaquePointer? {
            switch self {
            case .sha256: return Digest.fetched.sha256
            case .sha384: return Digest.fetched.sha384
            case .sha512: return Digest.fetched.sha512
            }
        }
    }

    /// Immutable after initialisation; EVP_MD objects are safe to share between threads.
    struct Fetched: @unchecked Sendable {
        let sha256 = EVP_MD_fetch(nil, "SHA256", nil)
        let sha384 = EVP_MD_fetch(nil, "SHA384", nil)
        let sha512 = EVP_MD_fetch(nil, "SHA512", nil)
    }
    static let fetched = Fetched()

    /// The digest of `data`. Throws when OpenSSL fails: an empty digest would compare equal to another
    /// empty one, and secrets are compared by digest.
    public static func hash(_ algorithm: Algorithm, _ data: some Collection<UInt8>) throws(JOSEError) -> [UInt8] {
        let run = { (buf: UnsafeRawBufferPointer) -> [UInt8] in
            [UInt8](unsafeUninitializedCapacity: 64) { out, n in
                var len: UInt32 = 0
                if EVP_Digest(buf.baseAddress, buf.count, out.baseAddress, &len, algorithm.md, nil) == 1 {
                    n = Int(len)
                } else {
                    ERR_clear_error()
                    n = 0
                }
            }
        }
        let digest = data.withContiguousStorageIfAvailable({ run(UnsafeRawBufferPointer($0)) }) ?? Array(data).withUnsafeBytes(run)
        guard digest.count == algorithm.byteCount else { throw JOSEError.openSSL("EVP_Digest") }
        return digest
    }
}

/// Constant-time equality for secrets and MACs (length is not secret).
public func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    let x = Array(a), y = Array(b)
    guard x.count == y.count else { return false }
    if x.isEmpty { return true }
    return x.withUnsafeBytes { px in
        y.withUnsafeBytes { py in CRYPTO_memcmp(px.baseAddress, py.baseAddress, x.count) == 0 }
    }
}

/// Cryptographically secure random bytes (OpenSSL's DRBG).
public func secureRandomBytes(_ count: Int) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count) { buf, n in
        // RAND_bytes only fails when the DRBG cannot be seeded; never hand out predictable bytes.
        guard RAND_bytes(buf.baseAddress, Int32(count)) == 1 else {
            fatalError("OpenSSL RAND_bytes failed: the system entropy source is unusable")
        }
        n = count
    }
}
