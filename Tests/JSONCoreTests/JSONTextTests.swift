import JSONCore
import Testing

@Suite struct JSONTextTests {
    /// Every string written by `JSONText` is one JSON string that Jansson reads back as the same string,
    /// on one line, with the controls escaped.
    @Test(arguments: ["", "plain", "a\"quote", "back\\slash", "line\nbreak\r\t", "\u{0}\u{1}\u{1F}\u{7F}", "\u{80}\u{9F}",
                      "\u{2028}\u{2029}", "é😀/", "api:read openid", "x\u{85}y"])
    func stringsRoundTripThroughJansson(_ s: String) throws {
        var out: [UInt8] = []
        JSONText.appendString(s, to: &out)
        #expect(try JSON.parse(out) == .string(s))
        let text = String(decoding: out, as: UTF8.self)
        #expect(!text.unicodeScalars.dropFirst().dropLast().contains(where: JSONText.isControl), "controls escaped: \(text)")
        #expect(!text.contains("\n"))
    }

    @Test func plainStringsAreCopiedAsTheyAre() {
        var out: [UInt8] = []
        JSONText.appendKey("scope", to: &out)
        JSONText.appendString("api:read", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""scope":"api:read""#)
    }
}
