import BinaryIO
import ModelIR
import SafetensorsFormat
import TestSupport
import Testing
@testable import Verifier

func loadModel(_ weights: String, config: String) throws -> Model {
    let (tensors, _) = try SafetensorsReader.read(path: Samples.path(weights))
    return Model(tensors: tensors, config: try ModelConfig(contentsOf: Samples.path(config)))
}

/// The worst absolute gap between two arrays, and where, for a readable failure.
func worstGap(_ a: [Float], _ b: [Float]) -> (gap: Float, index: Int) {
    var worst: (Float, Int) = (0, -1)
    for i in a.indices where abs(a[i] - b[i]) > worst.0 { worst = (abs(a[i] - b[i]), i) }
    return worst
}

@Suite struct COCOLMBucketTests {
    @Test func bucketsMatchTheReferenceTables() throws {
        // The fixture's full 64×64 table, and the notes' magnitude rows for the released base config.
        let (golden, _) = try SafetensorsReader.read(path: Samples.path("cocolm-tiny/golden.safetensors"))
        let full = try Weights.floats(of: try #require(golden.first { $0.name == "rel_pos_bucket_full" })).map { Int($0) }
        #expect(COCOLM.buckets(length: 64, bins: 16, maxDistance: 32, positions: 64) == full)
        let base = [16: 16, 17: 17, 18: 17, 19: 18, 31: 21, 32: 22, 63: 26, 64: 27, 110: 30, 111: 31, 500: 31]
        for (n, m) in base { #expect(COCOLM.magnitude(n, bins: 64, maxDistance: 128) == m, "n = \(n)") }
    }
}

@Suite struct GoldenTests {
    static let models: [(weights: String, config: String, golden: String)] = [
        ("bert-tiny/model.safetensors", "bert-tiny/config.json", "golden/bert-tiny.safetensors"),
        ("structbert-tiny/model.safetensors", "structbert-tiny/config.json", "structbert-tiny/golden.safetensors"),
        ("pytorch/roberta-tiny.reference.safetensors", "pytorch/roberta-tiny-zip/config.json", "golden/roberta-tiny.safetensors"),
        ("tensorflow/albert-tiny-tf1.reference.safetensors", "pytorch/albert-tiny-zip/config.json", "golden/albert-tiny.safetensors"),
        ("cocolm-tiny/model.safetensors", "cocolm-tiny/config.json", "cocolm-tiny/golden.safetensors"),
        ("perceiver-tiny/model.safetensors", "perceiver-tiny/config.json", "perceiver-tiny/golden.safetensors"),
    ]

    @Test(arguments: models)
    func matchesPyTorchOnEveryLayer(weights: String, config: String, golden: String) throws {
        let model = try loadModel(weights, config: config)
        let (goldenTensors, _) = try SafetensorsReader.read(path: Samples.path(golden))
        let inputs = try EncoderInputs(tensors: goldenTensors)
        let output = try Encoder.forward(model, inputs: inputs)
        let expectedStates = goldenTensors.filter { $0.name.hasPrefix("hidden_states.") }.count
        #expect(output.hiddenStates.count == expectedStates)
        for (i, state) in output.hiddenStates.enumerated() {
            let expected = try Weights.floats(of: try #require(goldenTensors.first { $0.name == "hidden_states.\(i)" }))
            let (gap, index) = worstGap(state, expected)
            #expect(gap <= 1e-5, "hidden_states.\(i): max |diff| \(gap) at \(index)")
        }
        if let logits = output.logits, let reference = goldenTensors.first(where: { $0.name == "logits" }) {
            let (gap, index) = worstGap(logits, try Weights.floats(of: reference))
            #expect(gap <= 1e-5, "logits: max |diff| \(gap) at \(index)")
        }
        #expect((output.logits == nil) == !goldenTensors.contains { $0.name == "logits" })
        if let pooled = output.pooler, let reference = goldenTensors.first(where: { $0.name == "pooler_output" }) {
            let (gap, index) = worstGap(pooled, try Weights.floats(of: reference))
            #expect(gap <= 1e-5, "pooler_output: max |diff| \(gap) at \(index)")
        }
    }
}

@Suite struct MalformedModelTests {
    @Test func wrongSizedParametersAreErrorsNotCrashes() throws {
        var model = try loadModel("bert-tiny/model.safetensors", config: "bert-tiny/config.json")
        let index = try #require(model.tensors.firstIndex { $0.name == "encoder.layer.1.output.LayerNorm.weight" })
        model.tensors[index] = Tensor(name: model.tensors[index].name, dtype: .f32, shape: [3], data: .owned(TensorBuffer(count: 12)))
        let inputs = try EncoderInputs.standard(vocabSize: 84)
        #expect(throws: VerifierError.self) { try Encoder.forward(model, inputs: inputs) }
        var tooLong = try loadModel("bert-tiny/model.safetensors", config: "bert-tiny/config.json")
        tooLong.config.numAttentionHeads = 5
        #expect(throws: VerifierError.self) { try Encoder.forward(tooLong, inputs: inputs) }
        #expect(throws: VerifierError.self) { try Encoder.forward(model, inputs: try EncoderInputs(inputIds: [[5, 999]])) }
        // A config width the tables do not have is refused before any buffer is sized by it.
        var huge = try loadModel("bert-tiny/model.safetensors", config: "bert-tiny/config.json")
        huge.config.hiddenSize = 1 << 40
        huge.config.numAttentionHeads = 1
        #expect(throws: VerifierError.self) { try Encoder.forward(huge, inputs: inputs) }
    }
}
