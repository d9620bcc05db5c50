import BinaryIO
import Testing

@Suite struct JSONTests {
    func parse(_ text: String) throws -> JSON { try JSON.parse(Array(text.utf8)) }

    @Test func keepsMemberOrderAndExactNumbers() throws {
        let json = try parse(#"{"z": 18446744073709551615, "a": [1e-12, -0.5, true, null], "m": {"k": "v"}}"#)
        #expect(json.objectValue?.map(\.key) == ["z", "a", "m"])
        #expect(json["z"]?.uint64Value == UInt64.max)
        #expect(json["a"]?.arrayValue?.first == .number("1e-12"))
        #expect(json.serialized() == #"{"z":18446744073709551615,"a":[1e-12,-0.5,true,null],"m":{"k":"v"}}"#)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let json = try parse(#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#)
        #expect(json.stringValue == "a\"\\/\u{08}\u{0C}\n\r\té😀")
    }

    @Test func writesLikeSerdeAndPython() {
        let value = JSON.object([("é", .string("tab\there \u{01} 😀")), ("n", .array([]))])
        #expect(value.serialized(.compact) == "{\"é\":\"tab\\there \\u0001 😀\",\"n\":[]}")
        #expect(value.serialized(.pretty) == "{\n  \"\\u00e9\": \"tab\\there \\u0001 \\ud83d\\ude00\",\n  \"n\": []\n}")
        #expect(JSON.double(1e-12) == .number("1e-12"))
        #expect(JSON.double(2) == .number("2.0"))
        #expect(JSON.double(0.1) == .number("0.1"))
    }

    static let malformed: [(String, String)] = [
        (#"{"a": 1, "a": 2}"#, "duplicate key \"a\""),
        (#"{"a": 1} x"#, "unexpected text after the JSON value"),
        (#"{"a": }"#, "unexpected character"),
        (#"[1, 2"#, "expected ',' or ']'"),
        (#""\ud800""#, "lone surrogate"),
        (#"01"#, "unexpected text after"),
        (#"{"a": tru}"#, "expected 'true'"),
        ("\"a\u{01}\"", "control character"),
        (String(repeating: "[", count: 100) + String(repeating: "]", count: 100), "nesting deeper than 64"),
    ]

    @Test(arguments: malformed)
    func rejectsMalformedDocuments(text: String, message: String) {
        #expect {
            try parse(text)
        } throws: { error in
            String(describing: error).contains(message)
        }
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        let bytes: [UInt8] = Array(#"{"ab"#.utf8) + [0xFF] + Array(#"": 1}"#.utf8)
        #expect {
            try JSON.parse(bytes, path: "h.json")
        } throws: { error in
            String(describing: error) == "h.json: offset 2: invalid JSON: invalid UTF-8 in a string"
        }
    }
}
