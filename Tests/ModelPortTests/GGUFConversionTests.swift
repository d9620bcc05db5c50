import BinaryIO
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing

@Suite struct GGUFConversionTests {
    @Test(arguments: ["bert-tiny", "tensorflow/albert-tiny-tf1", "perceiver-tiny", "cocolm-tiny", "structbert-tiny"])
    func f32RoundTripIsBitExact(sample: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path(sample), destination: folder.file("m.gguf"), options: .init())
        _ = try Converter.convert(source: folder.file("m.gguf"), destination: folder.file("back"), options: .init())
        let original = try ModelLoader.load(Samples.path(sample))
        let back = try ModelLoader.load(folder.file("back"))
        for tensor in original.tensors where !tensor.name.hasSuffix("position_ids") && !tensor.name.hasPrefix("pooler.")
            && !tensor.name.hasPrefix("cls.") {
            let got = try #require(back[tensor.name], "\(tensor.name)")
            #expect(got.info == tensor.info)
            #expect(try got.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "\(tensor.name)")
        }
        #expect(back.config.numHiddenLayers == original.config.numHiddenLayers)
    }

    @Test func bertUsesTheLlamaCppLayout() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("b.gguf"),
                                           options: ConversionOptions(output: GGUFOutput(types: .uniform(.q8_0))))
        #expect(report.dropped.allSatisfy { $0.kind == .notInOutput })
        let model = try ModelLoader.load(folder.file("b.gguf"))
        #expect(model.config.architecture == .bert)
        #expect(model["encoder.layer.3.attention.self.query.weight"]?.dtype == .q8_0)
        #expect(model["encoder.layer.3.output.LayerNorm.weight"]?.dtype == .f32)
        #expect(model["embeddings.position_embeddings.weight"]?.dtype == .f32)
        let vocab = try #require(model.auxiliaryFiles.first { $0.name == "vocab.txt" }?.contents)
        #expect(vocab == (try Samples.bytes("bert-tiny/vocab.txt")))
        // A GGUF source converts to a Hugging Face folder, dequantized.
        _ = try Converter.convert(source: folder.file("b.gguf"), destination: folder.file("hf"), options: .init())
        #expect(try ModelLoader.load(folder.file("hf")).tensors.allSatisfy { $0.dtype == .f32 })
        #expect(folder.contents("hf").contains("vocab.txt"))
    }

    /// The quality check measures each quantized tensor as written: GGUF renames tensors (`blk.N.…`) and is read
    /// back under the library's names, so the written tensors are found by position, not computed again.
    @Test func qualityCheckFindsTheWrittenGGUFTensors() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = GGUFOutput(types: .uniform(.q8_0))
        let prepared = try output.prepare(try ModelLoader.load(Samples.path("bert-tiny")))
        _ = try output.write(prepared, to: folder.file("b.gguf"), options: .init())
        let written = Converter.writtenTensors(try ModelLoader.load(folder.file("b.gguf")), prepared: prepared)
        let quantized = prepared.model.tensors.filter { $0.dtype == .q8_0 }
        #expect(!quantized.isEmpty)
        for tensor in quantized {
            let back = try #require(written[tensor.name], "\(tensor.name)")
            #expect(back.dtype == .q8_0 && back.shape == tensor.shape)
            #expect(try back.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "\(tensor.name)")
        }
    }
}
