import ModelIR
import Pickle
import Testing

func unpickle(_ bytes: [UInt8], allowed: Set<String> = ["collections.OrderedDict", "torch.Size", "_codecs.encode"]) throws -> PickleValue {
    try bytes.withUnsafeBytes { try Unpickler.load($0, file: "t.pkl", options: .init(allowedGlobals: allowed)).value }
}

@Suite struct UnpicklerTests {
    @Test func readsPlainValuesOfProtocol2() throws {
        // pickle.dumps({'a': [1, -2, 3.5, None, True], 'b': (b'xy', 'é', 300, 70000, 2**40)}, protocol=2)
        let bytes: [UInt8] = [
            0x80, 0x02, 0x7D, 0x71, 0x00, 0x28, 0x58, 0x01, 0x00, 0x00, 0x00, 0x61, 0x71, 0x01, 0x5D, 0x71, 0x02, 0x28,
            0x4B, 0x01, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x47, 0x40, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4E, 0x88,
            0x65, 0x58, 0x01, 0x00, 0x00, 0x00, 0x62, 0x71, 0x03, 0x28, 0x63, 0x5F, 0x63, 0x6F, 0x64, 0x65, 0x63, 0x73,
            0x0A, 0x65, 0x6E, 0x63, 0x6F, 0x64, 0x65, 0x0A, 0x71, 0x04, 0x58, 0x02, 0x00, 0x00, 0x00, 0x78, 0x79, 0x71,
            0x05, 0x58, 0x06, 0x00, 0x00, 0x00, 0x6C, 0x61, 0x74, 0x69, 0x6E, 0x31, 0x71, 0x06, 0x86, 0x71, 0x07, 0x52,
            0x71, 0x08, 0x58, 0x02, 0x00, 0x00, 0x00, 0xC3, 0xA9, 0x71, 0x09, 0x4D, 0x2C, 0x01, 0x4A, 0x70, 0x11, 0x01,
            0x00, 0x8A, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x74, 0x71, 0x0A, 0x75, 0x2E,
        ]
        guard case .dict(let dict) = try unpickle(bytes) else { Issue.record("not a dict"); return }
        let a = try #require(dict["a"]?.sequence)
        #expect(a.count == 5 && a[0].intValue == 1 && a[1].intValue == -2)
        if case .float(let f) = a[2] { #expect(f == 3.5) } else { Issue.record("not a float") }
        let b = try #require(dict["b"]?.sequence)
        if case .bytes(let raw) = b[0] { #expect(raw == [0x78, 0x79]) } else { Issue.record("bytes") }
        #expect(b[1].stringValue == "é" && b[2].intValue == 300 && b[3].intValue == 70000 && b[4].intValue == 1 << 40)
    }

    static let refused: [([UInt8], String)] = [
        ([0x80, 0x02, 0x63] + Array("os\nsystem\n".utf8) + [0x58, 0x02, 0, 0, 0, 0x69, 0x64, 0x52, 0x2E], "global 'os.system' is not allowed"),
        ([0x80, 0x02, 0x63] + Array("builtins\neval\n".utf8) + [0x2E], "global 'builtins.eval' is not allowed"),
        ([0x80, 0x02, 0x63] + Array("__builtin__\neval\n".utf8) + [0x2E], "global 'builtins.eval' is not allowed"),
        (Array("(S'x'\nios\nsystem\n.".utf8), "opcode INST"),
        ([0x80, 0x02, 0x7D, 0x68, 0x05, 0x2E], "memo slot 5 was never stored"),
        ([0x80, 0x02, 0x4B, 0x01, 0x4B, 0x02, 0x73, 0x2E], "SETITEM on"),
        ([0x80, 0x02, 0x52, 0x2E], "stack underflow"),
        ([0x80, 0x02, 0x4B, 0x01], "truncated pickle"),
        ([0x80, 0x02, 0x58, 0xE8, 0x03, 0x00, 0x00, 0x2E], "runs past the end"),
        ([0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], "value of 2147483647 bytes exceeds the limit"),
        ([0x80, 0x02, 0xFF, 0x2E], "unsupported pickle opcode 0xff"),
        ([0x80, 0x02, 0x4B, 0x01, 0x4B, 0x02, 0x62, 0x2E], "BUILD on 1 is not allowed"),
    ]

    @Test(arguments: refused)
    func refusesWhatItMustNotRun(bytes: [UInt8], message: String) {
        #expect {
            try unpickle(bytes)
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix("t.pkl: offset ") && text.contains(message)
        }
    }

    @Test func capsNesting() {
        let deep: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x5D, count: 5000) + [UInt8](repeating: 0x61, count: 4999) + [0x2E]
        #expect {
            try unpickle(deep)
        } throws: { String(describing: $0).contains("nested deeper than 1000 levels") }
        let tuples: [UInt8] = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 2000) + [0x2E]
        #expect(throws: ModelError.self) { try unpickle(tuples) }
    }

    @Test func recordsAllowlistedCallsWithoutRunningThem() throws {
        // torch._utils._rebuild_tensor_v2 applied to a tuple: a record, nothing else.
        let bytes: [UInt8] = [0x80, 0x02, 0x63] + Array("torch._utils\n_rebuild_tensor_v2\n".utf8) + [0x4B, 0x07, 0x85, 0x52, 0x2E]
        let value = try unpickle(bytes, allowed: ["torch._utils._rebuild_tensor_v2"])
        guard case .call(let call) = value else { Issue.record("not a call"); return }
        #expect(call.callee.qualifiedName == "torch._utils._rebuild_tensor_v2")
        #expect(call.arguments.first?.intValue == 7)
    }
}
