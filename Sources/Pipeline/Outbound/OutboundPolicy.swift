/// What pipeline functions may reach with `axios` (config `pipelines.http`). Enforced by the service,
/// before any connection is made: the JavaScript never holds a socket.
public struct OutboundPolicy: Sendable, Equatable {
    /// An allowed host: any port when `port` is nil.
    public struct Entry: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int?
        public var description: String { port.map { "\(host):\($0)" } ?? host }
    }
    public var allow: [Entry]
    public var maxResponseBytes: Int
    public var maxRequestsPerCall: Int

    public static let defaultMaxResponseBytes = 1024 * 1024
    public static let defaultMaxRequestsPerCall = 10
    /// No entries: every call is refused.
    public static let none = OutboundPolicy(allow: [])

    public init(allow: [Entry], maxResponseBytes: Int = defaultMaxResponseBytes, maxRequestsPerCall: Int = defaultMaxRequestsPerCall) {
        self.allow = allow
        self.maxResponseBytes = maxResponseBytes
        self.maxRequestsPerCall = maxRequestsPerCall
    }

    /// Parses an allow-list entry: `host` or `host:port` (IPv6 literals in brackets). Nil when invalid.
    public static func entry(_ text: String) -> Entry? {
        guard let (host, port) = OutboundURL.hostAndPort(Array(text.utf8)[...]) else { return nil }
        return Entry(host: host, port: port)
    }

    /// Whether `url` is allowed.
    func permits(_ url: OutboundURL) -> Bool {
        allow.contains { $0.host == url.host && ($0.port == nil || $0.port == url.port) }
    }
}

/// An absolute http(s) URL, parsed strictly so that what is checked is exactly what is connected to:
/// no user info (`http://allowed@elsewhere`), no backslashes, spaces, control or non-ASCII
/// characters, no percent-encoding in the host; the host is lower-cased and loses a trailing dot.
/// The request is made to `normalized`, built from these parts, never to the text the function gave.
struct OutboundURL: Equatable {
    var scheme: String
    var host: String
    var port: Int
    /// Path and query (`/` when empty); the fragment is dropped.
    var target: String

    init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 8192, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x5C }) else { return nil }
        guard let colon = bytes.firstIndex(of: 0x3A) else { return nil }
        let scheme = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        guard scheme == "http" || scheme == "https", bytes[(colon + 1)...].starts(with: "//".utf8) else { return nil }
        let authorityStart = colon + 3
        let authorityEnd = bytes[authorityStart...].firstIndex { $0 == 0x2F || $0 == 0x3F || $0 == 0x23 } ?? bytes.endIndex
        let authority = bytes[authorityStart..<authorityEnd]
        guard !authority.contains(0x40), let (host, port) = Self.hostAndPort(authority) else { return nil }
        var rest = bytes[authorityEnd...]
        if let hash = rest.firstIndex(of: 0x23) { rest = rest[..<hash] }
        self.scheme = scheme
        self.host = host
        self.port = port ?? (scheme == "https" ? 443 : 80)
        var target = String(decoding: rest, as: UTF8.self)
        if target.isEmpty || target.first == "?" { target = "/" + target }
        self.target = target
    }

    /// What curl is given.
    var normalized: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)\(target)"
    }

    /// The URL without its query (for logs and `pipeline test`).
    var withoutQuery: String {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)\(path)"
    }

    /// `host[:port]` → lower-cased host without a trailing dot (an IPv6 literal without brackets)
    /// and the port. Host names take letters, digits, `-`, `_` and `.` only.
    static func hostAndPort(_ authority: ArraySlice<UInt8>) -> (String, Int?)? {
        var hostBytes: ArraySlice<UInt8>
        var portBytes: ArraySlice<UInt8>?
        if authority.first == 0x5B {  // [v6]
            guard let close = authority.firstIndex(of: 0x5D) else { return nil }
            hostBytes = authority[(authority.startIndex + 1)..<close]
            let after = authority[(close + 1)...]
            if !after.isEmpty {
                guard after.first == 0x3A else { return nil }
                portBytes = after.dropFirst()
            }
            guard !hostBytes.isEmpty, hostBytes.allSatisfy({ isHex($0) || $0 == 0x3A || $0 == 0x2E }) else { return nil }
        } else {
            if let colon = authority.firstIndex(of: 0x3A) {
                hostBytes = authority[..<colon]
                portBytes = authority[(colon + 1)...]
            } else {
                hostBytes = authority
            }
            if hostBytes.last == 0x2E { hostBytes = hostBytes.dropLast() }
            guard !hostBytes.isEmpty, hostBytes.count <= 253,
                  hostBytes.allSatisfy({ isAlphanumeric($0) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F }) else { return nil }
        }
        var port: Int?
        if let portBytes {
            guard let p = Wire.integer(portBytes), portBytes.count <= 5, p >= 1, p <= 65535 else { return nil }
            port = Int(p)
        }
        return (String(decoding: hostBytes, as: UTF8.self).lowercased(), port)
    }

    private static func isHex(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x61...0x66).contains(c | 0x20) }
    private static func isAlphanumeric(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x61...0x7A).contains(c | 0x20) }
}
