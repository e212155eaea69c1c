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

    /// Each ASCII byte at each place of a string longer than two words (the check reads eight bytes at a
    /// time): copied as it is exactly when it needs no escape, and read back the same.
    @Test func everyASCIIByteAtEveryPlace() throws {
        for place in 0..<20 {
            for b in UInt8(0)..<0x80 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 20)
                bytes[place] = b
                let s = String(decoding: bytes, as: UTF8.self)
                var out: [UInt8] = []
                JSONText.appendString(s, to: &out)
                let plain = b >= 0x20 && b < 0x7F && b != 0x22 && b != 0x5C
                #expect((out == [0x22] + bytes + [0x22]) == plain, "byte \(b) at \(place)")
                #expect(try JSON.parse(out) == .string(s))
            }
            var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 20)
            bytes.replaceSubrange(place..<min(20, place + 2), with: [0xC3, 0xA9])
            var out: [UInt8] = []
            JSONText.appendString(String(decoding: bytes, as: UTF8.self), to: &out)
            #expect(try JSON.parse(out) == .string(String(decoding: bytes, as: UTF8.self)))
        }
    }
}
