import BinaryIO
import ModelIR
import ModelPort
import ModelPortCLI
import SafetensorsFormat
import TestSupport
import Testing

@Suite struct VerifyCommandTests {
    @Test(arguments: [
        ("tensorflow/bert-tiny-tf1", "bert-tiny"), ("pytorch/bert-tiny-legacy", "bert-tiny-sharded"),
        ("pytorch/albert-tiny-zip", "tensorflow/albert-tiny-tf1"), ("pytorch/roberta-tiny-zip", "pytorch/roberta-tiny-legacy"),
    ])
    func losslessConversionsPass(reference: String, candidate: String) throws {
        let result = run("verify", Samples.path(reference), Samples.path(candidate), "--json")
        #expect(result.status == 0, "\(result.err)")
        let json = try JSON.parse(Array(result.out.utf8))
        #expect(json["passed"] == .bool(true))
        #expect(json["max_abs_error"]?.doubleValue == 0)
        #expect(json["layers"]?.arrayValue?.allSatisfy { $0["passed"] == .bool(true) && $0["cosine_similarity"] != nil } == true)
    }

    @Test func truncatedAndCastCandidatesAreComparedLayerByLayer() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        #expect(run("convert", Samples.path("tensorflow/bert-tiny-tf1"), folder.file("rbt2"), "--keep-layers", "2").status == 0)
        let exact = run("verify", Samples.path("bert-tiny"), folder.file("rbt2"))
        #expect(exact.status == 0, "\(exact.out)")
        #expect(exact.out.contains("candidate has 2 layers: compared with the reference's first 2"))
        #expect(run("convert", Samples.path("bert-tiny"), folder.file("half"), "--dtype", "f16").status == 0)
        let half = try JSON.parse(Array(run("verify", Samples.path("bert-tiny"), folder.file("half"), "--json").out.utf8))
        #expect(half["passed"] == .bool(true))
        #expect(half["tolerance"]?["min_cosine"]?.doubleValue == 0.999)
        #expect((half["max_abs_error"]?.doubleValue ?? 0) > 0)
    }

    @Test func aPerturbedWeightFailsWithAClearReport() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var model = try ModelLoader.load(Samples.path("bert-tiny"))
        let index = try #require(model.tensors.firstIndex { $0.name == "encoder.layer.2.output.dense.weight" })
        var bytes = try model.tensors[index].withBytes { Array($0) }
        bytes[43] ^= 0x40  // one weight's exponent changed
        model.tensors[index] = Tensor(info: model.tensors[index].info, data: .owned(TensorBuffer(bytes)))
        _ = try HuggingFaceOutput().write(try HuggingFaceOutput().prepare(model), to: folder.file("bad"), options: .init())
        let result = run("verify", Samples.path("bert-tiny"), folder.file("bad"))
        #expect(result.status == 1)
        let layer2 = try #require(result.out.split(separator: "\n").first { $0.hasPrefix("layer 2 ") })
        #expect(layer2.hasSuffix("ok") && layer2.split(separator: " ").dropFirst(2).first == "0")
        #expect(result.out.contains("FAIL: some layers exceed the tolerance"))
        let line = try #require(result.out.split(separator: "\n").first { $0.hasPrefix("layer 3") })
        #expect(line.hasSuffix("FAIL"))
    }

    @Test func forwardWritesEveryHiddenState() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let result = run("forward", Samples.path("bert-tiny"), "--inputs", Samples.path("golden/bert-tiny.safetensors"),
                         "--output", folder.file("out.safetensors"), "--json")
        #expect(result.status == 0, "\(result.err)")
        let (tensors, _) = try SafetensorsReader.read(path: folder.file("out.safetensors"))
        #expect(Set(tensors.map(\.name)) == Set(["last_hidden_state", "pooler_output"] + (0...4).map { "hidden_states.\($0)" }))
        let json = try JSON.parse(Array(result.out.utf8))
        #expect(json["last_hidden_state"]?["shape"] == .array([.number("2"), .number("12"), .number("32")]))
    }

    @Test func tokenizesTextWithTheModelsVocabulary() throws {
        let result = run("verify", Samples.path("tensorflow/bert-tiny-tf1"), Samples.path("pytorch/bert-tiny-zip"),
                         "--text", "the model is fast", "--text", "我们的模型是安全的")
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("inputs:     2 sequences × 11 tokens"))
        let forward = run("forward", Samples.path("bert-tiny"), "--text", "keep three layers", "--json")
        #expect(try JSON.parse(Array(forward.out.utf8))["length"]?.intValue == 5)
    }

    @Test func unsupportedArchitecturesSaySo() {
        let result = run("forward", Samples.path("pytorch/views.bin"))
        #expect(result.status == 1)
        #expect(result.err.hasPrefix("error: "))
    }
}

@Suite struct GGUFCommandTests {
    @Test(arguments: [("f16", 0.999), ("bf16", 0.999), ("q8_0", 0.999), ("q5_1", 0.99), ("q4_0", 0.99)])
    func quantizedGGUFPassesVerification(dtype: String, cosine: Double) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let out = folder.file("m.gguf")
        #expect(run("convert", Samples.path("tensorflow/bert-tiny-tf1"), out, "--dtype", dtype).status == 0)
        let result = run("verify", Samples.path("tensorflow/bert-tiny-tf1"), out, "--json")
        #expect(result.status == 0, "\(result.out)")
        let json = try JSON.parse(Array(result.out.utf8))
        #expect((json["cosine_similarity"]?.doubleValue ?? 0) >= cosine)
        #expect(run("inspect", out).out.contains("format:       GGUF (bert)"))
    }
}

@Suite struct PackedCommandTests {
    @Test(arguments: [("int8", 0.9999), ("mlx8", 0.9999), ("mlx4", 0.99)])
    func quantizedFoldersReportTheirQualityAndVerify(dtype: String, cosine: Double) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let out = folder.file("m")
        let result = run("convert", Samples.path("bert-tiny"), out, "--dtype", dtype, "--group-size", "32", "--json")
        #expect(result.status == 0, "\(result.err)")
        let json = try JSON.parse(Array(result.out.utf8))
        #expect((json["quality"]?["end_to_end"]?["cosine_similarity"]?.doubleValue ?? 0) >= cosine)
        #expect(json["quality"]?["tensors"]?.arrayValue?.isEmpty == false)
        // verify reads the packed folder back (expanded to f32); 4 bits on a 32-wide model needs a looser floor
        // per token than the default 0.99.
        let verified = run("verify", Samples.path("bert-tiny"), out, "--json", "--min-cosine", dtype == "mlx4" ? "0.97" : "0.999")
        #expect(verified.status == 0, "\(verified.out)")
    }
}
