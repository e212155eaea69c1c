import JSONCore
import Testing

@Suite struct JSONTests {
    @Test func roundTripIsCompactAndUTF8Exact() throws {
        let text = #"{"a":[1,2.5,true,false,null],"s":"é😀/\"","n":{"x":-9007199254740993}}"#
        let value = try JSON.parse(text)
        #expect(JSON.serializeString(value) == #"{"a":[1,2.5,true,false,null],"s":"é😀/\"","n":{"x":-9007199254740993}}"#)
    }

    /// Documents up to the scratch space (4096 bytes) and past it serialise whole: a string of n bytes is n + 2.
    @Test(arguments: [0, 4093, 4094, 4095, 10_000])
    func documentsOfEverySizeSerialiseWhole(_ n: Int) throws {
        let text = String(repeating: "x", count: n)
        let bytes = JSON.serialize(.string(text))
        #expect(bytes.count == n + 2 && bytes.first == UInt8(ascii: "\"") && bytes.last == UInt8(ascii: "\""))
        #expect(try JSON.parse(bytes) == .string(text))
    }

    @Test func duplicateKeysAreRejected() {
        #expect(throws: JSONParseError.self) { try JSON.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: JSONParseError.self) { try JSON.parse(#"{"o":{"b":1,"b":1}}"#) }
    }

    @Test func malformedInputIsRejected() {
        for bad in ["", "{", "{\"a\":}", "[1,]", "\u{FF}", "{\"a\":1} x", "01"] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSON.parse(bad) }
        }
    }

    @Test func objectKeepsInsertionOrderButEqualityIgnoresIt() {
        var o = JSONObject()
        o["z"] = 1
        o["a"] = 2
        #expect(o.keys == ["z", "a"])
        #expect(o == ["a": 2, "z": 1])
        o["z"] = nil
        #expect(o.keys == ["a"])
    }
}
