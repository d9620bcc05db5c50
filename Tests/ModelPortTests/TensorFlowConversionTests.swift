import BinaryIO
import ModelIR
import ModelPort
import SafetensorsFormat
import TensorFlowFormat
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

    /// Kernels transposed on the way and quantized (pieces of whole Q8_0 blocks regrouped from the transpose's strips)
    /// give the same GGUF tensors as the Hugging Face weights they came from.
    @Test func quantizesTransposedKernelsAsTheirSource() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let options = ConversionOptions(output: GGUFOutput(types: .uniform(.q8_0)))
        _ = try Converter.convert(source: Samples.path("tensorflow/bert-tiny-tf2"), destination: folder.file("tf.gguf"), options: options)
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("hf.gguf"), options: options)
        let (a, b) = (try ModelLoader.load(folder.file("tf.gguf")), try ModelLoader.load(folder.file("hf.gguf")))
        #expect(a.tensors.count == b.tensors.count && a.tensors.contains { $0.dtype == .q8_0 })
        for tensor in b.tensors {
            let other = try #require(a[tensor.name], "\(tensor.name)")
            let (x, y) = (try other.withBytes { Array($0) }, try tensor.withBytes { Array($0) })
            #expect(other.info == tensor.info && x == y, "\(tensor.name)")
        }
    }

    /// A flipped byte inside a dense kernel, which is transposed on the way (checksummed before its strips are
    /// written): the conversion stops with the tensor's name, to every format, and leaves nothing.
    @Test(arguments: ["out", "out.gguf", "out.pdparams"])
    func aCorruptTransposedKernelStopsTheConversion(destination: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = Samples.path("tensorflow/bert-tiny-tf1")
        let name = "bert/encoder/layer_0/attention/self/query/kernel"
        let kernel = try TensorBundle.read(source + "/bert_model.ckpt").tensors.first { $0.name == name }!
        let kernelBytes = try kernel.withBytes { Array($0) }
        var data = try Samples.bytes("tensorflow/bert-tiny-tf1/bert_model.ckpt.data-00000-of-00001")
        let offset = try #require(firstOffset(of: kernelBytes, in: data))
        data[offset + kernelBytes.count / 2] ^= 0x10
        #expect(mkdir(folder.file("ckpt"), 0o755) == 0)
        for file in ["bert_config.json", "bert_model.ckpt.index", "checkpoint", "vocab.txt"] {
            try writeFile(folder.file("ckpt/" + file), Samples.bytes("tensorflow/bert-tiny-tf1/" + file))
        }
        try writeFile(folder.file("ckpt/bert_model.ckpt.data-00000-of-00001"), data)
        #expect {
            try Converter.convert(source: folder.file("ckpt"), destination: folder.file(destination), options: .init())
        } throws: { String(describing: $0).contains("tensor '\(name)': checksum mismatch") }
        #expect(folder.contents() == ["ckpt"])
    }
}

private func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let output = try AtomicFile(destination: path)
    try output.write(bytes)
    try output.commit()
}

/// Where `needle` first occurs in `haystack`.
private func firstOffset(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
    return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
}
