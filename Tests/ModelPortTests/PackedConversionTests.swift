import BinaryIO
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing
import Transforms

@Suite struct PackedConversionTests {
    @Test func int8FolderIsWhatCompressedTensorsWrites() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let options = ConversionOptions(output: HuggingFaceOutput(packing: .int8PerChannel))
        let report = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("int8"), options: options)
        let (written, _) = try SafetensorsReader.read(path: folder.file("int8/model.safetensors"))
        let (reference, _) = try SafetensorsReader.read(path: Samples.path("packed/reference.safetensors"))
        let expected = reference.filter { $0.name.hasPrefix("bert-tiny.") }
        #expect(expected.count == 50)
        for tensor in expected {
            let name = String(tensor.name.dropFirst("bert-tiny.".count))
            let ours = try #require(written.first { $0.name == name }, "\(name)")
            #expect(ours.info.dtype == tensor.dtype && ours.shape == tensor.shape, "\(name)")
            #expect(try ours.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "\(name)")
        }
        // Embeddings and norms stay f32, as compressed-tensors leaves them.
        #expect(written.first { $0.name == "embeddings.word_embeddings.weight" }?.dtype == .f32)
        let config = try JSON.parse(contentsOf: folder.file("int8/config.json"))
        let theirs = try JSON.parse(contentsOf: Samples.path("packed/bert-tiny-int8-config/config.json"))
        #expect(config["quantization_config"] == theirs["quantization_config"])
        #expect(try ModelLoader.load(folder.file("int8")).config.packedQuantizationDescription
                == "int8 symmetric per channel (compressed-tensors int-quantized)")
        // End to end: the issue asks for ≥ 0.9999 against the f32 model.
        let parity = try #require(report.parity)
        #expect(parity.last.cosineSimilarity >= 0.9999, "int8 end-to-end cosine \(parity.last.cosineSimilarity)")
        #expect(report.tensorQuality.count == 25 && report.tensorQuality.allSatisfy { $0.dtype == .i8 && $0.cosineSimilarity > 0.9999 })
    }

    @Test(arguments: [(4, 32, 0.99), (8, 64, 0.9999), (8, 128, 0.9999)])
    func mlxFolderKeepsTheModel(bits: Int, groupSize: Int, minimum: Double) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try WideBERT.write(to: folder.file("wide"))
        let options = ConversionOptions(output: HuggingFaceOutput(packing: .mlxAffine(bits: bits, groupSize: groupSize)))
        let report = try Converter.convert(source: folder.file("wide"), destination: folder.file("mlx"), options: options)
        let model = try ModelLoader.load(folder.file("mlx"))
        #expect(model["encoder.layer.0.intermediate.dense.weight"]?.info == TensorInfo(name: "encoder.layer.0.intermediate.dense.weight", dtype: .u32, shape: [512, 256 * bits / 32]))
        #expect(model["encoder.layer.0.intermediate.dense.scales"]?.shape == [512, 256 / groupSize])
        #expect(model["embeddings.word_embeddings.biases"] != nil)
        #expect(model.config["quantization"]?["group_size"]?.intValue == groupSize)
        #expect(model.config.packedQuantizationDescription == "MLX affine \(bits)-bit, groups of \(groupSize)")
        #expect(try #require(report.parity).last.cosineSimilarity >= minimum, "mlx\(bits) g\(groupSize): \(report.parity?.last.cosineSimilarity ?? 0)")
        // A packed folder reads back as float weights: to safetensors, and through the verifier.
        _ = try Converter.convert(source: folder.file("mlx"), destination: folder.file("back.safetensors"), options: .init())
        let back = try ModelLoader.load(folder.file("back.safetensors"))
        #expect(back["encoder.layer.0.intermediate.dense.weight"]?.info.dtype == .f32)
        #expect(back["encoder.layer.0.intermediate.dense.scales"] == nil)
        // The per-tensor quality is that of the weights as written: the source against the written codes and scales,
        // expanded (here by the conversion back to safetensors), figure for figure.
        let source = try ModelLoader.load(folder.file("wide"))
        #expect(report.tensorQuality.count == source.tensors.count { $0.shape.rank == 2 && $0.name.hasSuffix(".weight") && !$0.name.contains("LayerNorm") })
        for reported in report.tensorQuality {
            let measured = try TensorQuality.measure(name: reported.name, reference: try #require(source[reported.name]),
                                                     candidate: try #require(back[reported.name]))
            #expect(reported.dtype == .u32 && measured.rmsError == reported.rmsError && measured.maxError == reported.maxError
                    && measured.cosineSimilarity == reported.cosineSimilarity, "\(reported.name)")
        }
    }
}
