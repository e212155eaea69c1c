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
            guard bytes.allSatisfy({ (0x20..<0x7F).contains($0) && $0 != 0x22 && $0 != 0x5C }) else { return false }
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
