import BinaryIO
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing
import Verifier

@Suite struct LayerSurgeryTests {
    /// Every sample architecture, from every source format it has, truncated to its first 2 layers.
    static let sources: [(String, Int)] = [
        ("bert-tiny", 4), ("bert-tiny-sharded", 4), ("tensorflow/bert-tiny-tf1", 4), ("tensorflow/bert-tiny-tf2", 4),
        ("pytorch/bert-tiny-legacy", 4), ("pytorch/roberta-tiny-zip", 2), ("tensorflow/albert-tiny-tf1", 3),
        ("pytorch/albert-tiny-legacy", 3), ("cocolm-tiny", 2), ("structbert-tiny", 2), ("perceiver-tiny", 3),
    ]

    @Test(arguments: sources)
    func truncatesBitExactlyAndStillComputesTheSame(source: String, layers: Int) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path(source), destination: folder.file("small"),
                                           options: ConversionOptions(transforms: [.selectLayers(.first(2))]))
        #expect(report.layersBefore == layers && report.layersKept == [0, 1])
        let original = try ModelLoader.load(Samples.path(source))
        let small = try ModelLoader.load(folder.file("small"))
        #expect(small.layerCount == 2)
        // Kept tensors are the source's bytes (for TF sources: after the name map).
        let mappedOriginal = try Converter.transform(original, [.selectLayers(.first(2))])
        for tensor in mappedOriginal.tensors {
            #expect(try small[tensor.name]?.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "\(tensor.name)")
        }
        // The truncated model computes the source's first layers exactly.
        let inputs = try Verification.inputs(from: nil, for: [original])
        let parity = try Verification.verify(reference: original, candidate: small, inputs: inputs, tolerance: Tolerance(maxError: 1e-5))
        #expect(parity.passed && parity.layers.count == 3 && parity.last.maxAbsError == 0)
    }

    @Test func firstThreeLayersEqualPyTorchsThreeLayerModel() throws {
        let model = try ModelLoader.load(Samples.path("bert-tiny"))
        let rbt3 = try Converter.transform(model, [.selectLayers(.list([0, 1, 2]))])
        let (golden, _) = try SafetensorsReader.read(path: Samples.path("golden/bert-tiny-3layers.safetensors"))
        let output = try Verification.forward(rbt3, inputs: try EncoderInputs(tensors: golden))
        #expect(output.hiddenStates.count == 4)
        for name in ["last_hidden_state", "pooler_output"] {
            let expected = try #require(golden.first { $0.name == name })
            let values = try expected.withBytes { b in (0..<(b.count / 4)).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) } }
            let ours = name == "pooler_output" ? output.pooler! : output.lastHiddenState
            let gap = zip(ours, values).map { abs($0 - $1) }.max() ?? 1
            #expect(gap <= 1e-5, "\(name): \(gap)")
        }
    }

    @Test func albertKeepsOnlyPrefixesAndPerceiverRenumbers() throws {
        let albert = try ModelLoader.load(Samples.path("tensorflow/albert-tiny-tf1"))
        #expect {
            try Converter.transform(albert, [.selectLayers(.list([0, 2]))])
        } throws: { String(describing: $0).contains("only a prefix (0,1,…) can be kept") }
        let shorter = try Converter.transform(albert, [.selectLayers(.first(1))])
        #expect(shorter.config.numHiddenLayers == 1 && shorter.tensors.count == albert.tensors.count)

        let perceiver = try ModelLoader.load(Samples.path("perceiver-tiny"))
        let picked = try Converter.transform(perceiver, [.selectLayers(.list([2, 0]))])
        #expect(picked.config["num_self_attends_per_block"]?.intValue == 2)
        let source = try #require(perceiver["perceiver.encoder.self_attends.2.mlp.dense1.weight"])
        #expect(try picked["perceiver.encoder.self_attends.0.mlp.dense1.weight"]?.withBytes { Array($0) } == (try source.withBytes { Array($0) }))
    }

    @Test func dropsHeadsAndReportsTheSaving() throws {
        let model = try ModelLoader.load(Samples.path("tensorflow/bert-tiny-tf1"))
        let bare = try Converter.transform(model, [.dropHeads])
        #expect(!bare.tensors.contains { $0.name.hasPrefix("cls.") || $0.name.contains("pooler") })
        #expect(bare.dropped.filter { $0.kind == .head }.count == 9)
    }

    @Test func truncatedGGUFHasTheNewBlockCount() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path("pytorch/bert-tiny-zip"), destination: folder.file("rbt2.gguf"),
                                  options: ConversionOptions(transforms: [.selectLayers(.first(2))]))
        let back = try ModelLoader.load(folder.file("rbt2.gguf"))
        #expect(back.config.numHiddenLayers == 2 && back.layerCount == 2)
    }
}
