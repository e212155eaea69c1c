import OAuthWire
import Testing

/// `application/x-www-form-urlencoded` bodies: every parameter decoded to UTF-8, or the whole body refused.
@Suite struct FormParametersTests {
    static let accepted: [(body: [UInt8], values: [String: String])] = [
        (Array("grant_type=client_credentials&scope=api%3Aread".utf8), ["grant_type": "client_credentials", "scope": "api:read"]),
        (Array("scope=a+b%20c&x=".utf8), ["scope": "a b c", "x": ""]),
        (Array("name=%C3%A9%F0%9F%98%80".utf8), ["name": "é😀"]),
        (Array("name=é&é=1".utf8), ["name": "é", "é": "1"]),
        (Array("flag&&=ignored&a=%2B".utf8), ["flag": "", "a": "+"]),
        ([], [:]),
    ]

    @Test(arguments: accepted)
    func bodiesDecode(_ body: [UInt8], _ values: [String: String]) throws {
        #expect(try FormParameters(body: body).values == values)
    }

    static let refused: [(name: String, body: [UInt8])] = [
        ("raw byte that is not UTF-8", Array("a=".utf8) + [0xFF]),
        ("escaped byte that is not UTF-8", Array("a=%FF".utf8)),
        ("truncated UTF-8 sequence", Array("a=%C3".utf8)),
        ("broken escape", Array("a=%Z1".utf8)),
        ("escape cut short", Array("a=%4".utf8)),
        ("repeated parameter", Array("a=1&a=2".utf8)),
        ("name that is not UTF-8", [0xC3, 0x28] + Array("=1".utf8)),
    ]

    @Test(arguments: refused)
    func malformedBodiesAreRefused(_ name: String, _ body: [UInt8]) {
        #expect(throws: FormError.self, "\(name)") { try FormParameters(body: body) }
    }

    @Test func plusIsLiteralOutsideForms() {
        #expect(FormParameters.decode(Array("a+b%2B".utf8)[...], plusIsSpace: false) == "a+b+")
        #expect(FormParameters.decode(Array("a+b".utf8)[...]) == "a b")
    }
}
