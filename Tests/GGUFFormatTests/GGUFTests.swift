import BinaryIO
@testable import GGUFFormat
import ModelIR
import Quantization
import SafetensorsFormat
import TestSupport
import Testing

@Suite struct QuantizerReferenceTests {
    /// The fixture's tensors by name (read per test: a missing or broken fixture fails the tests that need it, not the run).
    static func reference() throws -> [String: Tensor] {
        let (tensors, _) = try SafetensorsReader.read(path: Samples.path("gguf/quantization-reference.safetensors"))
        return Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
    }

    @Test(arguments: ["normal", "heavy_tailed", "zeros", "constant", "tiny", "halfway", "large"])
    func matchesGGUFPyByteForByte(input: String) throws {
        let x = try #require(try Self.reference()[input])
        let q8 = try x.withBytes { try Q8_0.quantize($0) }.bytes
        #expect(q8 == (try #require(try Self.reference()[input + ".q8_0"]).withBytes { Array($0) }), "Q8_0 \(input)")
        let bf16 = try x.withBytes { FloatCast.convert($0, from: .f32, to: .bf16) }.bytes
        #expect(bf16 == (try #require(try Self.reference()[input + ".bf16"]).withBytes { Array($0) }), "BF16 \(input)")
        let f16 = try x.withBytes { FloatCast.convert($0, from: .f32, to: .f16) }.bytes
        #expect(f16 == (try #require(try Self.reference()[input + ".f16"]).withBytes { Array($0) }), "F16 \(input)")
        for type in [DType.q4_0, .q4_1, .q5_0, .q5_1] {
            let ours = try x.withBytes { try BlockQuantizer.quantize($0, to: type) }.bytes
            #expect(ours == (try #require(try Self.reference()[input + "." + type.rawValue]).withBytes { Array($0) }), "\(type) \(input)")
            let back = ours.withUnsafeBytes { BlockQuantizer.dequantize($0, from: type) }.bytes
            #expect(back == (try #require(try Self.reference()[input + "." + type.rawValue + ".dequantized"]).withBytes { Array($0) }), "\(type) dequantized \(input)")
        }
        // Dequantizing gives each value within half a quantization step.
        let back = Q8_0.dequantize(q8.withUnsafeBytes { UnsafeRawBufferPointer($0) }).bytes
        #expect(back.count == (x.info.byteCount ?? 0))
    }
}

@Suite struct GGUFReaderTests {
    @Test func readsWhatGGUFPyWrote() throws {
        let contents = try GGUFReader.read(path: Samples.path("gguf/written-by-gguf-py.gguf"))
        #expect(contents.value("general.architecture") == .string("bert"))
        #expect(contents.value("bert.block_count") == .u32(1))
        #expect(contents.value("bert.attention.causal") == .bool(false))
        #expect(contents.value("tokenizer.ggml.tokens") == .array(elementType: 8, [.string("[PAD]"), .string("\u{2581}hello"), .string("ing")]))
        #expect(contents.value("some.ints") == .array(elementType: 5, [.i32(1), .i32(2), .i32(3)]))
        #expect(contents.tensors.map(\.info) == [
            TensorInfo(name: "token_embd.weight", dtype: .f32, shape: [4, 64]),
            TensorInfo(name: "blk.0.attn_q.weight", dtype: .q8_0, shape: [4, 64]),
            TensorInfo(name: "blk.0.attn_q.bias", dtype: .f32, shape: [64]),
        ])
        let normal = try #require(try QuantizerReferenceTests.reference()["normal"])
        #expect(try contents.tensors[0].withBytes { Array($0) } == (try normal.withBytes { Array($0) }))
        #expect(try contents.tensors[1].withBytes { Array($0) } == (try #require(try QuantizerReferenceTests.reference()["normal.q8_0"]).withBytes { Array($0) }))
    }

    @Test func writerAndReaderRoundTrip() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let contents = try GGUFReader.read(path: Samples.path("gguf/written-by-gguf-py.gguf"))
        let path = folder.file("again.gguf")
        try GGUFWriter.write(contents.tensors, metadata: contents.metadata, to: path)
        // Same metadata, tensors and data layout as gguf-py's own file.
        let ours = try MappedFile(path: path).withBytes { Array($0) }
        #expect(ours == (try Samples.bytes("gguf/written-by-gguf-py.gguf")))
    }

    static let broken: [(String, String)] = [
        ("wrong-magic", "offset 0: bad magic (not a GGUF file)"),
        ("truncated", "runs past the end"),
        ("offset-past-end", "tensor 'blk.0.attn_q.bias': data at 1099511628320+256 runs past the end of the 2112-byte file"),
        ("misaligned-offset", "is not a multiple of the alignment 32"),
        ("unknown-type", "unknown or unsupported ggml type 99"),
        ("string-past-end", "string length 1125899906842624 runs past the end of the file"),
        ("huge-array", "array of 1000000000000000 elements does not fit in the file"),
    ]

    @Test(arguments: broken)
    func rejectsBrokenFiles(name: String, message: String) {
        let path = Samples.path("broken/gguf/\(name).gguf")
        #expect {
            try GGUFReader.read(path: path)
        } throws: { error in
            let text = String(describing: error)
            return error is ModelError && text.hasPrefix(path) && text.contains(message)
        }
    }

    @Test(arguments: [
        (String(repeating: "x", count: 64), "GGUF allows at most 63"),
        ("blk.0\u{0}.attn_q.weight", "holds control characters"),
        ("blk.0.attn_q\n.weight", "holds control characters"),
        ("", "name is empty"),
    ])
    func refusesNamesGGUFReadersCannotKeep(name: String, rule: String) {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let tensor = Tensor(name: name, dtype: .f32, shape: [1], data: .owned(TensorBuffer(count: 4)))
        #expect {
            try GGUFWriter.write([tensor], metadata: [], to: folder.file("never-written.gguf"))
        } throws: { String(describing: $0).contains(rule) }
        #expect(folder.contents().isEmpty)
    }
}
