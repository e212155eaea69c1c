/// Why a form body was refused (the text names the parameter, never its value).
public struct FormError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// An `application/x-www-form-urlencoded` body (RFC 6749 appendix B). A parameter sent twice,
/// broken percent-encoding or bytes that are not UTF-8 make the whole request invalid.
public struct FormParameters: Sendable {
    public private(set) var values: [String: String] = [:]

    public init(values: [String: String]) { self.values = values }

    public init(body: [UInt8]) throws(FormError) {
        let n = body.count
        var start = 0
        while start < n {
            var end = start
            while end < n, body[end] != UInt8(ascii: "&") { end += 1 }
            if end > start {
                var eq = start
                while eq < end, body[eq] != UInt8(ascii: "=") { eq += 1 }
                guard let name = Self.decode(body[start..<eq]), let value = Self.decode(body[min(eq + 1, end)..<end]) else {
                    throw FormError(reason: "the body is not valid form encoding")
                }
                if !name.isEmpty {
                    guard values[name] == nil else { throw FormError(reason: "parameter \(name) is repeated") }
                    values[name] = value
                }
            }
            start = end + 1
        }
    }

    public subscript(name: String) -> String? { values[name] }

    /// Percent-decoding (RFC 3986 §2.1), with `+` as space as forms encode it unless `plusIsSpace` is false
    /// (URL user info); nil for broken escapes or invalid UTF-8.
    public static func decode(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool = true) -> String? {
        guard bytes.contains(where: { ($0 == UInt8(ascii: "+") && plusIsSpace) || $0 == UInt8(ascii: "%") }) else {
            return utf8String(bytes)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "+") where plusIsSpace: out.append(0x20)
            case UInt8(ascii: "%"):
                guard i + 2 < bytes.endIndex, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 2
            default: out.append(b)
            }
            i += 1
        }
        return utf8String(out[...])
    }

    /// The bytes as a string; nil when they are not UTF-8. ASCII (the usual parameter) is copied as it
    /// is, without the generic validation's run-time type lookups.
    private static func utf8String(_ bytes: ArraySlice<UInt8>) -> String? {
        bytes.withUnsafeBufferPointer { b in
            b.allSatisfy({ $0 < 0x80 }) ? String(decoding: b, as: UTF8.self) : String(validating: b, as: UTF8.self)
        }
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x57
        case 0x41...0x46: return c - 0x37
        default: return nil
        }
    }
}
