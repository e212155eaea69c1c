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

    public init(body: some Collection<UInt8>) throws(FormError) {
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), let value = Self.decode(parts.count > 1 ? Array(parts[1]) : []) else {
                throw FormError(reason: "the body is not valid form encoding")
            }
            if name.isEmpty { continue }
            guard values[name] == nil else { throw FormError(reason: "parameter \(name) is repeated") }
            values[name] = value
        }
    }

    public subscript(name: String) -> String? { values[name] }

    /// Percent-decoding with `+` as space; nil for broken escapes or invalid UTF-8.
    public static func decode(_ bytes: some Collection<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var it = bytes.makeIterator()
        while let b = it.next() {
            switch b {
            case UInt8(ascii: "+"): out.append(0x20)
            case UInt8(ascii: "%"):
                guard let h = it.next().flatMap(hex), let l = it.next().flatMap(hex) else { return nil }
                out.append(h << 4 | l)
            default: out.append(b)
            }
        }
        return String(validating: out, as: UTF8.self)
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
