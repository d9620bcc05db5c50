import BinaryIO
import ModelIR
import ModelPort
import PaddleFormat
import SafetensorsFormat
import TestSupport
import Testing

@Suite struct PaddleConversionTests {
    /// Converts `sample` to a Hugging Face folder and checks every tensor against bert-tiny's first `layers` layers,
    /// bit for bit; returns the written config.
    static func convertsToBertTiny(_ sample: String, layers: Int, options: ConversionOptions = .init()) throws -> (ModelConfig, [String]) {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path(sample), destination: folder.file("hf"), options: options)
        let (written, _) = try SafetensorsReader.read(path: folder.file("hf/model.safetensors"))
        let (reference, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        let kept = reference.filter { tensor in !(layers..<4).contains { tensor.name.hasPrefix("encoder.layer.\($0).") } }
        #expect(Set(written.map(\.name)) == Set(kept.map(\.name)))
        for tensor in kept {
            let got = try #require(written.first { $0.name == tensor.name })
            #expect(got.info == tensor.info)
            #expect(try got.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "\(tensor.name)")
        }
        return (try ModelConfig(contentsOf: folder.file("hf/config.json")), folder.contents("hf"))
    }

    @Test(arguments: ["paddle/bert-tiny-p2", "paddle/rbt-tiny"])
    func convertsPaddleNLPToHuggingFaceBitExactly(sample: String) throws {
        let (config, files) = try Self.convertsToBertTiny(sample, layers: 2)
        #expect(config.architecture == .bert && config.numHiddenLayers == 2 && config.layerNormEps == 1e-12)
        #expect(files.contains("vocab.txt"))
    }

    /// Layer 0 of bert-tiny under Paddle 1.x static names, as Paddle 3.3 wrote it in four layouts.
    @Test(arguments: ["paddle/hub-rbt-tiny", "paddle/inference-pdmodel", "paddle/inference-pir", "paddle/static-save",
                      "paddle/inference-pir/inference.pdiparams", "paddle/inference-pdmodel/inference.pdmodel"])
    func convertsStaticGraphLayoutsBitExactly(sample: String) throws {
        let (config, _) = try Self.convertsToBertTiny(sample, layers: 1, options: .init(load: LoadOptions(strict: true)))
        #expect(config.architecture == .bert && config.numHiddenLayers == 1 && config.layerNormEps == 1e-12)
    }

    @Test func paddleHubModuleCarriesItsConfigAndVocabulary() throws {
        let model = try ModelLoader.load(Samples.path("paddle/hub-rbt-tiny"))
        #expect(model.sourceFormat == "PaddlePaddle PaddleHub module (assets/params)")
        #expect(model.notes.map(\.text).contains("removed the PaddleHub prefix @HUB_rbt-tiny@ from the variable names"))
        #expect(model.config.numAttentionHeads == 4 && model.config.hiddenSize == 32)
        #expect(model.auxiliaryFiles.map(\.name) == ["vocab.txt"])
        #expect(model.tensors.filter { $0.shape.rank == 1 }.allSatisfy { $0.data.isMapped })  // transposed fc weights are produced
        // The verifier runs it: the one-layer Paddle model equals bert-tiny cut to one layer.
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("one"), options: ConversionOptions(transforms: [.selectLayers(.first(1))]))
        let reference = try ModelLoader.load(folder.file("one"))
        let inputs = try Verification.inputs(from: nil, for: [reference, model])
        let parity = try Verification.verify(reference: reference, candidate: model, inputs: inputs, tolerance: nil)
        #expect(parity.passed && parity.last.maxAbsError == 0)
    }

    /// paddle.jit.save (Paddle 2.6) names parameters linear_3.w_0 …; inference.pdiparams.info maps them back. The
    /// same weights saved by paddle.save in pickle protocol 3, and in protocol 2 with split arrays, read the same.
    @Test(arguments: ["paddle/jit-export", "paddle/jit-export.p3.pdparams", "paddle/jit-export.split.pdparams"])
    func tinyBERTExportsConvertBitExactly(sample: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path(sample), destination: folder.file("m.safetensors"),
                                           options: .init(load: LoadOptions(strict: true)))
        if sample == "paddle/jit-export" {
            #expect(report.notes.map(\.text).contains("named 23 parameters by their structured names from inference.pdiparams.info"))
        }
        if sample.hasSuffix("split.pdparams") {  // paddle.save's own splitter, its limit lowered so tiny tables split
            #expect(report.notes.contains { $0.text.hasPrefix("reassembled ") && $0.text.hasSuffix("arrays paddle.save had split (UnpackBigParamInfor@@)") })
        }
        let (written, _) = try SafetensorsReader.read(path: folder.file("m.safetensors"))
        let (reference, _) = try SafetensorsReader.read(path: Samples.path("paddle/jit-export.reference.safetensors"))
        #expect(Set(written.map(\.name)) == Set(reference.map(\.name)))
        for tensor in reference {
            let got = try #require(written.first { $0.name == tensor.name })
            #expect(got.info == tensor.info)
            #expect(try got.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "\(tensor.name)")
        }
    }

    @Test func paddleHubModuleV1ReadsItsProgramAndVariableFiles() throws {
        // model/__model__ names @HUB_tiny@pos_embedding and @HUB_tiny@word_embedding; each has its own file.
        let model = try ModelLoader.load(Samples.path("paddle/hub-module-v1"))
        #expect(model.sourceFormat == "PaddlePaddle PaddleHub module (model/)")
        #expect(model.tensors.map(\.info) == [
            TensorInfo(name: "embeddings.position_embeddings.weight", dtype: .f32, shape: [2, 4]),
            TensorInfo(name: "embeddings.word_embeddings.weight", dtype: .f32, shape: [4, 4]),
        ])
        let floats = { (t: Tensor) in try t.withBytes { Array($0.bindMemory(to: Float.self)) } }
        #expect(try floats(model.tensors[0]) == (0..<8).map { Float($0) * 0.5 })
        #expect(try floats(model.tensors[1]) == (0..<16).map { Float($0) })
    }

    @Test func writesPaddleNLPWeightsThatReadBackBitExactly() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var options = ConversionOptions()
        options.output = PaddleOutput()
        let report = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("pd"), options: options)
        #expect(report.files == ["model_state.pdparams", "model_config.json", "vocab.txt"])
        // Paddle's own layout: PaddleNLP names, Linear weights [in, out], the arrays of bert-tiny.
        let written = try PaddleParams.read(path: folder.file("pd/model_state.pdparams"))
        let linear = try #require(written.tensors.first { $0.name == "bert.encoder.layers.1.linear1.weight" })
        #expect(linear.shape == [32, 64])
        #expect(written.tensors.contains { $0.name == "bert.embeddings.layer_norm.weight" })
        // And back: every tensor bit-identical to the source, config and vocabulary kept.
        _ = try Converter.convert(source: folder.file("pd"), destination: folder.file("back"), options: .init())
        let (back, _) = try SafetensorsReader.read(path: folder.file("back/model.safetensors"))
        let (source, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        #expect(Set(back.map(\.name)) == Set(source.map(\.name)))
        for tensor in source {
            let got = try #require(back.first { $0.name == tensor.name })
            #expect(got.info == tensor.info)
            #expect(try got.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "\(tensor.name)")
        }
        #expect(try ModelConfig(contentsOf: folder.file("back/config.json")).numAttentionHeads == 4)
        // Only BERT-family models have PaddleNLP names here.
        #expect { try Converter.convert(source: Samples.path("perceiver-tiny"), destination: folder.file("p.pdparams"), options: .init()) } throws: {
            ($0 as? ModelError)?.kind == .unsupported && "\($0)".contains("PaddleNLP output holds BertModel weights")
        }
    }

    static let broken: [(String, String)] = [
        ("missing-record", "holds 1 records, but the program names 2 persistable variables (next: word_embedding)"),
        ("truncated-record", "tensor 'word_embedding': f32 [4, 4] needs 64 bytes, only 54 left in the file"),
        ("extra-bytes", "58 bytes after the 2 records the program names"),
        ("huge-shape", "f32 [1048576, 1048576] needs 4398046511104 bytes, only 64 left in the file"),
        ("os-system.pdparams", "global 'posix.system' is not allowed"),
    ]

    @Test(arguments: broken)
    func brokenPaddleInputsAreOneLineErrors(name: String, message: String) {
        #expect {
            try ModelLoader.load(Samples.path("broken/paddle/" + name))
        } throws: { error in
            let text = "\(error)"
            return text.contains(message) && !text.contains("\n")
        }
    }
}
