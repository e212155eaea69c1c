import OAuthWire
import Testing
@testable import TokenService

/// `listen.trusted_proxies`: the client address behind proxies (RFC 7239 `Forwarded`, `X-Forwarded-For`),
/// the right-most hop that is not itself trusted; headers from untrusted peers are ignored.
@Suite struct TrustedProxiesTests {
    static let proxies = TrustedProxies(ranges: ["127.0.0.1/32", "10.0.0.0/8", "::1", "fd00::/8"].compactMap { CIDR($0) })

    @Test(arguments: [
        ("untrusted peer: headers ignored", "203.0.113.9", [("X-Forwarded-For", "1.2.3.4")], "203.0.113.9"),
        ("untrusted peer, Forwarded ignored", "203.0.113.9", [("Forwarded", "for=1.2.3.4")], "203.0.113.9"),
        ("trusted peer, one hop", "127.0.0.1", [("X-Forwarded-For", "1.2.3.4")], "1.2.3.4"),
        ("what the client wrote on the left is not believed", "127.0.0.1", [("X-Forwarded-For", "6.6.6.6, 1.2.3.4")], "1.2.3.4"),
        ("trusted hops are skipped", "127.0.0.1", [("X-Forwarded-For", "1.2.3.4, 10.1.1.1, 10.2.2.2")], "1.2.3.4"),
        ("all trusted: the left-most", "127.0.0.1", [("X-Forwarded-For", "10.1.1.1, 10.2.2.2")], "10.1.1.1"),
        ("two header lines are one list", "127.0.0.1", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "1.2.3.4")], "1.2.3.4"),
        ("a port is dropped", "127.0.0.1", [("X-Forwarded-For", "1.2.3.4:5678")], "1.2.3.4"),
        ("IPv6 in X-Forwarded-For", "127.0.0.1", [("X-Forwarded-For", "2001:db8::7")], "2001:db8::7"),
        ("garbage from the proxy: the proxy", "127.0.0.1", [("X-Forwarded-For", "not-an-address")], "127.0.0.1"),
        ("no header: the peer", "127.0.0.1", [], "127.0.0.1"),
        ("IPv4-mapped peer", "::ffff:127.0.0.1", [("X-Forwarded-For", "1.2.3.4")], "1.2.3.4"),
        ("IPv6 trusted peer", "::1", [("X-Forwarded-For", "1.2.3.4")], "1.2.3.4"),
        ("Forwarded (RFC 7239 §4)", "127.0.0.1", [("Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43")], "192.0.2.60"),
        ("Forwarded, quoted IPv6 with port", "127.0.0.1", [("Forwarded", #"for="[2001:db8:cafe::17]:4711""#)], "2001:db8:cafe::17"),
        ("Forwarded, case and blanks", "127.0.0.1", [("Forwarded", "For=192.0.2.43 , for=198.51.100.17")], "198.51.100.17"),
        ("Forwarded, unknown on the left", "127.0.0.1", [("Forwarded", "for=unknown, for=198.51.100.17")], "198.51.100.17"),
        ("Forwarded, unknown from the proxy: the proxy", "127.0.0.1", [("Forwarded", "for=198.51.100.17, for=unknown")], "127.0.0.1"),
        ("Forwarded, obfuscated node", "127.0.0.1", [("Forwarded", "for=_hidden")], "127.0.0.1"),
        ("Forwarded wins over X-Forwarded-For", "127.0.0.1", [("X-Forwarded-For", "1.1.1.1"), ("Forwarded", "for=2.2.2.2")], "2.2.2.2"),
        ("Forwarded, a quoted comma", "127.0.0.1", [("Forwarded", #"for=1.2.3.4;x="a,b", for=5.6.7.8"#)], "5.6.7.8"),
    ])
    func theClientAddress(_ name: String, _ peer: String, _ fields: [(String, String)], _ expected: String) {
        #expect(Self.proxies.clientAddress(peer: peer, forwarded: fields.filter { $0.0 == "Forwarded" }.map(\.1),
                                           forwardedFor: fields.filter { $0.0 == "X-Forwarded-For" }.map(\.1)) == expected, "\(name)")
    }

    @Test func withoutTrustedProxiesThePeerIsTheClient() {
        #expect(TrustedProxies.none.clientAddress(peer: "127.0.0.1", forwarded: [], forwardedFor: ["1.2.3.4"]) == "127.0.0.1")
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false), ("192.168.1.0/24", "192.168.1.77", true),
        ("192.168.1.0/24", "192.168.2.1", false), ("0.0.0.0/0", "8.8.8.8", true), ("1.2.3.4", "1.2.3.4", true), ("1.2.3.4", "1.2.3.5", false),
        ("fd00::/8", "fd12::1", true), ("fd00::/8", "fe80::1", false), ("::ffff:10.0.0.0/104", "10.9.9.9", true), ("10.0.0.0/8", "::ffff:10.0.0.1", true),
        ("2001:db8::/32", "10.0.0.1", false), ("10.0.0.0/12", "10.15.255.255", true), ("10.0.0.0/12", "10.16.0.0", false),
    ])
    func rangesContain(_ range: String, _ address: String, _ expected: Bool) throws {
        let cidr = try #require(CIDR(range))
        let ip = try #require(IPAddress(address))
        #expect(cidr.contains(ip) == expected, "\(range) ∋ \(address)")
    }

    @Test(arguments: ["", "10.0.0.0/33", "10.0.0.0/-1", "::/129", "10.0.0/8", "example.com", "10.0.0.0/8/8", "10.0.0.0/ 8", "1.2.3.4/+8"])
    func badRangesAreRefused(_ text: String) {
        #expect(CIDR(text) == nil, "\(text)")
    }
}
