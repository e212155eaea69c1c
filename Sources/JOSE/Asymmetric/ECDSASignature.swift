internal import COpenSSL

/// JWS ECDSA signatures are raw R‖S (RFC 7518 §3.4); OpenSSL speaks DER. These convert between them.
enum ECDSASignature {
    static func rawFromDER(_ der: [UInt8], coordinateSize: Int) throws(JOSEError) -> [UInt8] {
        let sig: OpaquePointer? = der.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_ECDSA_SIG(nil, &p, buf.count)
        }
        guard let sig else { throw JOSEError.openSSL("d2i_ECDSA_SIG") }
        defer { ECDSA_SIG_free(sig) }
        var r: OpaquePointer?, s: OpaquePointer?
        ECDSA_SIG_get0(sig, &r, &s)
        var out = [UInt8](repeating: 0, count: 2 * coordinateSize)
        let ok = out.withUnsafeMutableBufferPointer { buf -> Bool in
            guard let base = buf.baseAddress else { return false }
            return BN_bn2binpad(r, base, Int32(coordinateSize)) == coordinateSize
                && BN_bn2binpad(s, base + coordinateSize, Int32(coordinateSize)) == coordinateSize
        }
        guard ok else { throw JOSEError.openSSL("BN_bn2binpad") }
        return out
    }

    /// nil when the raw signature has the wrong length (such a signature simply does not verify).
    static func derFromRaw(_ raw: [UInt8], coordinateSize: Int) -> [UInt8]? {
        guard raw.count == 2 * coordinateSize, let sig = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(sig) }
        let r = BN_bin2bn(raw, Int32(coordinateSize), nil)
        let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress.map { $0 + coordinateSize }, Int32(coordinateSize), nil) }
        guard let r, let s, ECDSA_SIG_set0(sig, r, s) == 1 else {
            BN_free(r); BN_free(s)
            return nil
        }
        let len = i2d_ECDSA_SIG(sig, nil)
        guard len > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(len))
        let written = der.withUnsafeMutableBufferPointer { buf -> Int32 in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            return i2d_ECDSA_SIG(sig, &p)
        }
        return written == len ? der : nil
    }
}
