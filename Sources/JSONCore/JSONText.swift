/// JSON text written directly, for documents whose shape is fixed (the token response, log lines).
public enum JSONText {
    /// `s` as a JSON string (RFC 8259 §7): quoted; a quote, a backslash and the controls escaped —
    /// C0, DEL, C1 and the line and paragraph separators, so that the text is also one line of a log
    /// and a JavaScript literal.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        defer { out.append(UInt8(ascii: "\"")) }
        // Printable ASCII without a quote or a backslash (the usual value) is its own JSON text.
        var contiguous = s
        let asIs = contiguous.withUTF8 { bytes in
            guard isPlain(UnsafeRawBufferPointer(bytes)) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if asIs { return }
        for u in s.unicodeScalars {
            switch u {
            case "\"": out.append(contentsOf: "\\\"".utf8)
            case "\\": out.append(contentsOf: "\\\\".utf8)
            case "\n": out.append(contentsOf: "\\n".utf8)
            case "\r": out.append(contentsOf: "\\r".utf8)
            case "\t": out.append(contentsOf: "\\t".utf8)
            case _ where isControl(u): appendUnicodeEscape(u, to: &out)
            case _ where u.isASCII: out.append(UInt8(u.value))
            default: out.append(contentsOf: String(u).utf8)
            }
        }
    }

    /// Printable ASCII without a quote or a backslash: checked eight bytes at a time.
    static func isPlain(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        // A byte of `v` is zero (exact for the whole word: no false hits).
        func anyZero(_ v: UInt64) -> Bool { (v &- ones) & ~v & highs != 0 }
        var i = 0
        while i + 8 <= bytes.count {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // A byte ≥ 0x80, below 0x20, DEL, `"` or `\`.
            if w & highs != 0 || (w &- ones &* 0x20) & ~w & highs != 0 || anyZero(w ^ (ones &* 0x7F))
                || anyZero(w ^ (ones &* 0x22)) || anyZero(w ^ (ones &* 0x5C)) { return false }
            i += 8
        }
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x20 || b >= 0x7F || b == 0x22 || b == 0x5C { return false }
            i += 1
        }
        return true
    }

    /// `"key":` (the key written as `appendString` writes it).
    public static func appendKey(_ key: String, to out: inout [UInt8]) {
        appendString(key, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
    public static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || u.value == 0x7F || (0x80...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
    }

    /// `\uXXXX` for a scalar of the Basic Multilingual Plane.
    public static func appendUnicodeEscape(_ u: Unicode.Scalar, to out: inout [UInt8]) {
        let hex = String(u.value, radix: 16)
        out.append(contentsOf: "\\u".utf8)
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, 4 - hex.count)))
        out.append(contentsOf: hex.utf8)
    }
}
