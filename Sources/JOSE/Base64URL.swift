/// base64url without padding (RFC 7515 §2, RFC 4648 §5).
public enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    public static func encodedCount(_ n: Int) -> Int { (n * 4 + 2) / 3 }

    /// Appends the encoding of `bytes` to `out`.
    public static func encode(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        // One dynamic call for callers in other modules, then a loop over contiguous bytes.
        if bytes.withContiguousStorageIfAvailable({ encode(UnsafeRawBufferPointer($0), into: &out) }) == nil {
            Array(bytes).withUnsafeBytes { encode($0, into: &out) }
        }
    }

    public static func encode(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let n = bytes.count
        let start = out.count
        // The encoding's room, zeroed, then filled in place: no capacity or uniqueness check per character.
        out.append(contentsOf: repeatElement(0, count: encodedCount(n)))
        alphabet.withUnsafeBufferPointer { a in
            out.withUnsafeMutableBufferPointer { o in
                var i = 0, j = start
                while i + 3 <= n {
                    let b0 = bytes[i], b1 = bytes[i + 1], b2 = bytes[i + 2]
                    o[j] = a[Int(b0 >> 2)]
                    o[j + 1] = a[Int(((b0 & 0x03) << 4) | (b1 >> 4))]
                    o[j + 2] = a[Int(((b1 & 0x0F) << 2) | (b2 >> 6))]
                    o[j + 3] = a[Int(b2 & 0x3F)]
                    i += 3
                    j += 4
                }
                if n - i == 1 {
                    let b0 = bytes[i]
                    o[j] = a[Int(b0 >> 2)]
                    o[j + 1] = a[Int((b0 & 0x03) << 4)]
                } else if n - i == 2 {
                    let b0 = bytes[i], b1 = bytes[i + 1]
                    o[j] = a[Int(b0 >> 2)]
                    o[j + 1] = a[Int(((b0 & 0x03) << 4) | (b1 >> 4))]
                    o[j + 2] = a[Int((b1 & 0x0F) << 2)]
                }
            }
        }
    }

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        encode(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes strictly: no padding, no whitespace, no non-alphabet characters, no non-zero
    /// trailing bits. Returns nil for anything else.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        if let r = text.withContiguousStorageIfAvailable({ decode(UnsafeRawBufferPointer($0)) }) { return r }
        return Array(text).withUnsafeBytes { decode($0) }
    }

    public static func decode(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        let n = text.count
        if n % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(n * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        let ok = reverse.withUnsafeBufferPointer { table in
            for c in text {
                let v = table[Int(c)]
                if v == 0xFF { return false }
                acc = (acc << 6) | UInt32(v)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                    acc &= (1 << UInt32(bits)) - 1
                }
            }
            return true
        }
        guard ok, acc == 0 else { return nil }
        return out
    }

    public static func decode(_ text: String) -> [UInt8]? { decode(Array(text.utf8)) }
}
