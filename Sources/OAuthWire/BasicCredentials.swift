import JOSE

/// HTTP Basic client credentials (RFC 6749 §2.3.1, RFC 7617).
public enum BasicCredentials {
    /// `Basic base64(urlencode(id):urlencode(secret))`.
    public static func parse(_ header: String) -> (String, String)? {
        var header = header
        return header.withUTF8 { value -> (String, String)? in
            // The scheme (case-insensitive, after any leading blanks), at least one blank, the credentials.
            guard let start = value.firstIndex(where: { $0 != UInt8(ascii: " ") }), value.count - start > 6,
                  (0..<5).allSatisfy({ value[start + $0] | 0x20 == scheme[$0] }), value[start + 5] == UInt8(ascii: " "),
                  let bytes = decodeBase64(Array(value[(start + 6)...]))
            else { return nil }
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
                  let id = FormParameters.decode(bytes[..<colon]), let secret = FormParameters.decode(bytes[(colon + 1)...]),
                  !id.isEmpty
            else { return nil }
            return (id, secret)
        }
    }

    private static let scheme: [UInt8] = Array("basic".utf8)

    /// Standard padded base64 (RFC 4648 §4), surrounding blanks ignored, as in the Authorization header.
    public static func decodeBase64(_ text: [UInt8]) -> [UInt8]? {
        var chars = Array(OAuthSyntax.trimmingOWS(text))
        guard chars.count % 4 == 0 else { return nil }
        var padding = 0
        while padding < 2, chars.last == UInt8(ascii: "=") { chars.removeLast(); padding += 1 }
        for i in chars.indices {
            switch chars[i] {
            case UInt8(ascii: "+"): chars[i] = UInt8(ascii: "-")
            case UInt8(ascii: "/"): chars[i] = UInt8(ascii: "_")
            case UInt8(ascii: "-"), UInt8(ascii: "_"): return nil
            default: break
            }
        }
        return Base64URL.decode(chars)
    }
}
