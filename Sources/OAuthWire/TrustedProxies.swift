#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as bytes (4 or 16); an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is its
/// IPv4 address, so one rule covers both spellings.
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(_ text: some StringProtocol) {
        var v4 = in_addr()
        var v6 = in6_addr()
        let s = String(text)
        if inet_pton(AF_INET, s, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, s, &v6) == 1 {
            let all = withUnsafeBytes(of: &v6) { Array($0) }
            bytes = all[0..<10].allSatisfy { $0 == 0 } && all[10] == 0xFF && all[11] == 0xFF ? Array(all[12...]) : all
        } else {
            return nil
        }
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var copy = bytes
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard inet_ntop(family, &copy, &buffer, socklen_t(buffer.count)) != nil else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A CIDR range (`10.0.0.0/8`, `fd00::/8`), or one address without a prefix length.
public struct CIDR: Sendable, Equatable {
    public let network: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let written = parts[0].contains(":") ? 128 : 32
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy({ ("0"..."9").contains($0) }), let n = Int(parts[1]), n <= written else { return nil }
            // An IPv4-mapped range (`::ffff:10.0.0.0/104`) is its IPv4 range.
            prefixLength = address.bytes.count == 4 && written == 128 ? n - 96 : n
            guard prefixLength >= 0 else { return nil }
        } else {
            prefixLength = address.bytes.count * 8
        }
        network = address
    }

    public func contains(_ address: IPAddress) -> Bool {
        guard address.bytes.count == network.bytes.count else { return false }
        var remaining = prefixLength
        for (a, n) in zip(address.bytes, network.bytes) {
            if remaining <= 0 { return true }
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if a & mask != n & mask { return false }
            remaining -= 8
        }
        return true
    }
}

/// `listen.trusted_proxies`: whose `Forwarded` (RFC 7239) or `X-Forwarded-For` the service believes.
/// From a trusted peer, the client address is the right-most hop that is not itself trusted; from any
/// other peer, those headers are ignored. The same address feeds the abuse limits, the access log and
/// the pipelines' `context.request.ip`.
public struct TrustedProxies: Sendable {
    public let ranges: [CIDR]

    public init(ranges: [CIDR]) { self.ranges = ranges }

    public static let none = TrustedProxies(ranges: [])

    public func isTrusted(_ address: IPAddress) -> Bool { ranges.contains { $0.contains(address) } }

    /// The client's address for a request from `peer` with these `Forwarded` and `X-Forwarded-For` lines.
    public func clientAddress(peer: String, forwarded: @autoclosure () -> [String], forwardedFor: @autoclosure () -> [String]) -> String {
        guard !ranges.isEmpty, let peerAddress = IPAddress(peer), isTrusted(peerAddress) else { return peer }
        // `Forwarded` when the proxy sends it, else `X-Forwarded-For`; each line in order, each list in order.
        let forwardedLines = forwarded()
        let hops = forwardedLines.isEmpty ? Self.forwardedFor(forwardedFor()) : Self.forwardedElements(forwardedLines)
        var client = peerAddress
        for hop in hops.reversed() {
            // A hop that is not an address (`unknown`, an obfuscated name, garbage) ends the walk: the last
            // trusted hop is the best known client.
            guard let address = hop.flatMap({ IPAddress($0) }) else { break }
            client = address
            if !isTrusted(address) { break }
        }
        return client.description
    }

    /// The `for=` node of each element of `Forwarded` values, without quotes, brackets or port; nil for a
    /// missing or unusable node.
    public static func forwardedElements(_ values: [String]) -> [String?] {
        values.flatMap { value in
            splitOutsideQuotes(value, by: ",").map { element -> String? in
                for pair in splitOutsideQuotes(element, by: ";") {
                    let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    guard kv.count == 2, kv[0].trimmingBlanks.lowercased() == "for" else { continue }
                    var node = Substring(kv[1].trimmingBlanks)
                    if node.hasPrefix("\""), node.hasSuffix("\""), node.count >= 2 { node = node.dropFirst().dropLast() }
                    return nodeAddress(node)
                }
                return nil
            }
        }
    }

    /// `X-Forwarded-For` lists: addresses, optionally with a port (`1.2.3.4:5678`, `[2001:db8::1]:443`).
    public static func forwardedFor(_ values: [String]) -> [String?] {
        values.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { nodeAddress(Substring($0.trimmingBlanks)) } }
    }

    /// The address of a node: `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80`, or a bare IPv6 address.
    private static func nodeAddress(_ node: Substring) -> String? {
        if node.hasPrefix("[") {
            guard let close = node.firstIndex(of: "]") else { return nil }
            return String(node[node.index(after: node.startIndex)..<close])
        }
        let colons = node.filter { $0 == ":" }.count
        if colons == 1, let colon = node.firstIndex(of: ":") { return String(node[..<colon]) }
        return node.isEmpty ? nil : String(node)
    }

    private static func splitOutsideQuotes(_ s: String, by separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for c in s {
            if escaped { current.append(c); escaped = false; continue }
            if quoted, c == "\\" { current.append(c); escaped = true; continue }
            if c == "\"" { quoted.toggle() }
            if c == separator, !quoted { parts.append(current); current = ""; continue }
            current.append(c)
        }
        parts.append(current)
        return parts
    }
}

extension StringProtocol {
    /// Without spaces and tabs at either end.
    fileprivate var trimmingBlanks: String {
        let bytes = Array(utf8)
        var start = 0, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
