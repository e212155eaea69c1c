/// Character rules from RFC 6749 appendix A (and the HTTP whitespace around header values).
public enum OAuthSyntax {
    /// Without OWS (RFC 9110 §5.6.3: spaces and horizontal tabs) at either end.
    @inlinable
    public static func trimmingOWS<C: BidirectionalCollection<UInt8>>(_ bytes: C) -> C.SubSequence {
        let isOWS: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let first = bytes.firstIndex(where: { !isOWS($0) }), let last = bytes.lastIndex(where: { !isOWS($0) }) else {
            return bytes[bytes.endIndex...]
        }
        return bytes[first...last]
    }

    /// scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    public static func isScopeToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
    }

    /// error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ); anything else becomes a space.
    public static func sanitizedDescription(_ s: String) -> String {
        let bytes = s.utf8.prefix(512).map { b -> UInt8 in
            (b == 0x20 || b == 0x21 || (0x23...0x5B).contains(b) || (0x5D...0x7E).contains(b)) ? b : 0x20
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.isEmpty ? "error" : text
    }
}
