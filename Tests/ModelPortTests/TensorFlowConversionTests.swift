import BinaryIO
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing

/// TF checkpoints written by TensorFlow itself, converted and compared bit for bit with the Hugging Face
/// weights they were made from.
@Suite struct TensorFlowConversionTests {
    static let samples: [(String, String)] = [
        ("bert-tiny-tf1", "tensorflow/bert-tiny-tf1.reference.safetensors"),
        ("bert-tiny-sharded", "bert-tiny/model.safetensors"),
        ("bert-tiny-tf2", "bert-tiny/model.safetensors"),
        ("bert-tiny-tf2-unnamed", "bert-tiny/model.safetensors"),
        ("albert-tiny-tf1", "tensorflow/albert-tiny-tf1.reference.safetensors"),
    ]

    @Test(arguments: samples)
    func convertsBitExactly(sample: String, reference: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path("tensorflow/" + sample), destination: folder.file("hf"), options: .init())
        #expect(report.format.id == "hf")
        let (written, _) = try SafetensorsReader.read(path: folder.file("hf/model.safetensors"))
        let (expected, _) = try SafetensorsReader.read(path: Samples.path(reference))
        #expect(Set(written.map(\.name)) == Set(expected.map(\.name)))
        for tensor in expected {
            let got = try #require(written.first { $0.name == tensor.name }, "\(tensor.name)")
            #expect(got.info == tensor.info)
            #expect(try got.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "\(tensor.name)")
        }
        #expect(folder.contents("hf").contains("vocab.txt"))
    }

    @Test func reportsDroppedOptimizerStateAndWritesTheConfig() throws {
        let model = try ModelLoader.load(Samples.path("tensorflow/bert-tiny-tf1/bert_model.ckpt"))
        #expect(model.dropped.filter { $0.reason == "optimizer slot" }.count == 156)
        #expect(model.dropped.filter { $0.reason == "step counter" }.count == 1)
        #expect(model.config.architecture == .bert && model.config.numHiddenLayers == 4)
        #expect(model.config["architectures"] == .array([.string("BertForPreTraining")]))
        #expect(model["bert.encoder.layer.0.attention.self.query.weight"] != nil)
        #expect(model["cls.seq_relationship.weight"]?.shape == [2, 32])

        let albert = try ModelLoader.load(Samples.path("tensorflow/albert-tiny-tf1"))
        #expect(albert.config.architecture == .albert && albert.config.embeddingSize == 16)
        #expect(albert["encoder.albert_layer_groups.0.albert_layers.0.ffn_output.weight"]?.shape == [32, 64])
    }

    @Test func truncatesAndCastsStraightFromTensorFlow() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path("tensorflow/bert-tiny-sharded"), destination: folder.file("rbt2"),
                                           options: ConversionOptions(transforms: [.cast(.f16), .selectLayers(.first(2))]))
        #expect(report.tensorCount == 39)
        let model = try ModelLoader.load(folder.file("rbt2"))
        #expect(model.config.numHiddenLayers == 2 && model.tensors.allSatisfy { $0.dtype == .f16 })
    }

    @Test func aCorruptTensorStopsTheConversionAndLeavesNothing() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        #expect {
            try Converter.convert(source: Samples.path("broken/tensorflow/flipped-tensor-byte"), destination: folder.file("out"), options: .init())
        } throws: { String(describing: $0).contains("checksum mismatch") }
        #expect(folder.contents().isEmpty)
    }
}
