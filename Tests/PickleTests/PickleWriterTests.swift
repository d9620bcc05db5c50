import BinaryIO
import ModelIR
import Pickle
import Testing

@Suite struct PickleWriterTests {
    /// The opcodes CPython's pickler chooses for protocol 2:
    /// `pickletools.optimize(pickle.dumps((0, 255, 256, 65535, 65536, -1, 2**31-1, -2**31, 'é', (), (7,), (7, 8),
    /// (7, 8, 9), (7, 8, 9, 10), None, True, False, collections.OrderedDict), protocol=2))`.
    @Test func writesWhatCPythonWritesForProtocol2() throws {
        var w = try PickleWriter(version: 2)
        try w.mark()
        for value in [0, 255, 256, 65535, 65536, -1, Int(Int32.max), Int(Int32.min)] { try w.int(value) }
        try w.string("é")
        for items in [[], [7], [7, 8], [7, 8, 9], [7, 8, 9, 10]] { try w.tuple(items) }
        try w.none()
        try w.newTrue()
        try w.newFalse()
        try w.global("collections", "OrderedDict")
        try w.tuple()
        try w.stop()
        #expect(w.bytes == [
            0x80, 0x02, 0x28, 0x4B, 0x00, 0x4B, 0xFF, 0x4D, 0x00, 0x01, 0x4D, 0xFF, 0xFF, 0x4A, 0x00, 0x00, 0x01, 0x00,
            0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x4A, 0xFF, 0xFF, 0xFF, 0x7F, 0x4A, 0x00, 0x00, 0x00, 0x80, 0x58, 0x02, 0x00,
            0x00, 0x00, 0xC3, 0xA9, 0x29, 0x4B, 0x07, 0x85, 0x4B, 0x07, 0x4B, 0x08, 0x86, 0x4B, 0x07, 0x4B, 0x08, 0x4B,
            0x09, 0x87, 0x28, 0x4B, 0x07, 0x4B, 0x08, 0x4B, 0x09, 0x4B, 0x0A, 0x74, 0x4E, 0x88, 0x89, 0x63, 0x63, 0x6F,
            0x6C, 0x6C, 0x65, 0x63, 0x74, 0x69, 0x6F, 0x6E, 0x73, 0x0A, 0x4F, 0x72, 0x64, 0x65, 0x72, 0x65, 0x64, 0x44,
            0x69, 0x63, 0x74, 0x0A, 0x74, 0x2E,
        ])
    }

    /// Protocol 4: `pickletools.optimize(pickle.dumps(('aaa', 'é', b'b', collections.OrderedDict), protocol=4))`
    /// without its FRAME opcode (Paddle's pickles have none).
    @Test func writesWhatCPythonWritesForProtocol4() throws {
        var w = try PickleWriter(version: 4)
        try w.mark()
        try w.string("aaa")
        try w.string("é")
        try w.shortBinBytes([UInt8(ascii: "b")])
        try w.global("collections", "OrderedDict")
        try w.tuple()
        try w.stop()
        #expect(w.bytes == [
            0x80, 0x04, 0x28, 0x8C, 0x03, 0x61, 0x61, 0x61, 0x8C, 0x02, 0xC3, 0xA9, 0x43, 0x01, 0x62, 0x8C, 0x0B, 0x63,
            0x6F, 0x6C, 0x6C, 0x65, 0x63, 0x74, 0x69, 0x6F, 0x6E, 0x73, 0x8C, 0x0B, 0x4F, 0x72, 0x64, 0x65, 0x72, 0x65,
            0x64, 0x44, 0x69, 0x63, 0x74, 0x93, 0x74, 0x2E,
        ])
        // From 256 bytes on, a protocol-4 string is BINUNICODE with a four-byte length.
        var long = try PickleWriter(version: 4)
        try long.string(String(repeating: "x", count: 256))
        #expect(Array(long.bytes[2..<7]) == [0x58, 0x00, 0x01, 0x00, 0x00])
    }

    /// What the writer emits, the unpickler reads back: big integers, raw byte payloads streamed after their header.
    @Test func theUnpicklerReadsItBack() throws {
        var w = try PickleWriter(version: 4)
        try w.emptyDict()
        try w.mark()
        try w.string("big")
        try w.int(1 << 40)
        try w.string("negative")
        try w.long1(-(1 << 40))
        try w.string("payload")
        try w.binBytesHeader(count: 3)
        try w.output.writeBytes([9, 8, 7])
        try w.string("payload8")
        try w.binBytes8Header(count: 2)
        try w.output.writeBytes([6, 5])
        try w.setItems()
        try w.stop()
        let value = try w.bytes.withUnsafeBytes { try Unpickler.load($0, file: "t.pkl", options: .init(allowedGlobals: [])).value }
        guard case .dict(let dict) = value else { Issue.record("not a dict: \(value)"); return }
        #expect(dict["big"]?.intValue == 1 << 40)
        #expect(dict["negative"]?.intValue == -(1 << 40))
        if case .bytes(let raw)? = dict["payload"] { #expect(raw == [9, 8, 7]) } else { Issue.record("payload") }
        if case .bytes(let raw)? = dict["payload8"] { #expect(raw == [6, 5]) } else { Issue.record("payload8") }
    }

    @Test func refusesStringsTooLongForTheirOpcode() throws {
        var w = try PickleWriter(version: 4)
        #expect {
            try w.shortBinUnicode(String(repeating: "x", count: 256))
        } throws: { String(describing: $0).contains("256 does not fit an unsigned 8-bit field") }
        #expect {
            try w.shortBinBytes([UInt8](repeating: 0, count: 300))
        } throws: { String(describing: $0).contains("300 does not fit an unsigned 8-bit field") }
        #expect(w.bytes == [0x80, 0x04])  // a refused opcode leaves nothing behind
    }

    @Test func numpyCodesAreOneTableBothWays() {
        for (code, dtype) in NumpyType.codes {
            #expect(NumpyType.dtype(code: code) == dtype)
            #expect(NumpyType.code(for: dtype) == code)
        }
        #expect(Set(NumpyType.codes.map(\.code)).count == NumpyType.codes.count)
        #expect(NumpyType.dtype(code: "u2") == .bf16)  // Paddle's bf16 bits
        #expect(NumpyType.code(for: .q8_0) == nil)
        #expect(NumpyType.dtype(code: "c8") == nil)
    }
}
