import BinaryIO
import ModelIR
import TestSupport
import Testing

@Suite struct DTypeTests {
    @Test func blockSizesMatchGGML() {
        let expected: [DType: (Int, Int)] = [
            .q8_0: (32, 34), .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22), .q5_1: (32, 24),
            .q4_K: (256, 144), .q5_K: (256, 176), .q6_K: (256, 210), .f32: (1, 4), .bf16: (1, 2), .bool: (1, 1),
        ]
        for (dtype, (size, bytes)) in expected {
            #expect(dtype.blockSize == size && dtype.blockBytes == bytes, "\(dtype)")
        }
        #expect(DType.q8_0.byteCount(elements: 64) == 68)
        #expect(DType.q8_0.byteCount(elements: 33) == nil)
        #expect(DType.f64.byteCount(elements: Int.max / 4) == nil)
    }

    @Test func parsesCLISpellings() {
        #expect(DType(name: "F16") == .f16)
        #expect(DType(name: "bfloat16") == .bf16)
        #expect(DType(name: "Q4_K") == .q4_K)
        #expect(DType(name: "q8_0") == .q8_0)
        #expect(DType(name: "f17") == nil)
    }

    @Test func shapesReportOverflow() {
        #expect(Shape([]).elementCount == 1)
        #expect(Shape([0, 5]).elementCount == 0)
        #expect(Shape([1 << 40, 1 << 40]).elementCount == nil)
        #expect(TensorInfo(name: "x", dtype: .f32, shape: [1 << 61]).byteCount == nil)
    }
}

@Suite struct ModelConfigTests {
    @Test func roundTripsTransformersConfig() throws {
        let path = Samples.path("bert-tiny/config.json")
        let config = try ModelConfig(contentsOf: path)
        #expect(config.architecture == .bert)
        #expect(config.hiddenSize == 32 && config.numHiddenLayers == 4 && config.numAttentionHeads == 4)
        #expect(config.intermediateSize == 64 && config.vocabSize == 84 && config.typeVocabSize == 2)
        #expect(config.layerNormEps == 1e-12 && config.hiddenAct == "gelu" && config.padTokenId == 0)
        // Written back sorted, as transformers writes it: the committed file's exact text.
        let original = String(decoding: try Samples.bytes("bert-tiny/config.json"), as: UTF8.self)
        #expect(config.huggingFaceText(weightsDType: .f32) == original)
        var edited = config
        edited.numHiddenLayers = 2
        let reread = try ModelConfig(huggingFaceJSON: try JSON.parse(Array(edited.huggingFaceText(weightsDType: .f16).utf8)))
        #expect(reread.numHiddenLayers == 2)
        #expect(reread["dtype"] == .string("float16"))
        #expect(reread["torch_dtype"] == nil)
    }

    @Test func rejectsNonObjectsAndBadNumbers() {
        #expect(throws: ModelError.self) { try ModelConfig(huggingFaceJSON: .array([])) }
        #expect {
            try ModelConfig(huggingFaceJSON: .object([("hidden_size", .string("32"))]), file: "config.json")
        } throws: { String(describing: $0) == "config.json: key 'hidden_size': must be a non-negative integer, found \"32\"" }
    }

    @Test func infersBertFromShapes() {
        let infos = [
            TensorInfo(name: "bert.embeddings.word_embeddings.weight", dtype: .f32, shape: [100, 128]),
            TensorInfo(name: "bert.embeddings.position_embeddings.weight", dtype: .f32, shape: [512, 128]),
            TensorInfo(name: "bert.embeddings.token_type_embeddings.weight", dtype: .f32, shape: [2, 128]),
            TensorInfo(name: "bert.encoder.layer.0.intermediate.dense.weight", dtype: .f32, shape: [512, 128]),
            TensorInfo(name: "bert.encoder.layer.1.intermediate.dense.weight", dtype: .f32, shape: [512, 128]),
            TensorInfo(name: "bert.encoder.layer.2.output.dense.weight", dtype: .f32, shape: [128, 512]),
        ]
        let (config, notes) = ModelConfig.inferred(from: infos)
        #expect(config.architecture == .bert)
        #expect(config.vocabSize == 100 && config.hiddenSize == 128 && config.maxPositionEmbeddings == 512)
        #expect(config.typeVocabSize == 2 && config.numHiddenLayers == 3 && config.intermediateSize == 512)
        #expect(config.numAttentionHeads == 2)
        #expect(notes.contains { $0.text.contains("num_attention_heads assumed") })
    }

    @Test func layerNames() {
        #expect(LayerName.index(in: "encoder.layer.11.output.dense.weight") == 11)
        #expect(LayerName.index(in: "bert.encoder.layer.3.attention.self.query.bias") == 3)
        #expect(LayerName.index(in: "encoder.layers.3.x") == nil)
        #expect(LayerName.index(in: "encoder.layer.x.y") == nil)
        #expect(LayerName.renumbered("bert.encoder.layer.11.output.dense.weight", to: 2) == "bert.encoder.layer.2.output.dense.weight")
    }
}

@Suite struct TensorDataTests {
    @Test func checksByteCountsAgainstTheInfo() throws {
        let tensor = Tensor(name: "w", dtype: .f32, shape: [3], data: .owned(TensorBuffer([0, 0, 0, 0, 0, 0, 0, 0])))
        #expect {
            try tensor.withBytes { _ in }
        } throws: { String(describing: $0) == "tensor 'w': has 8 bytes, but f32 [3] needs 12" }
    }

    @Test func producersRunOnlyWhenPulled() throws {
        let counter = PullCounter()
        var model = Model(tensors: [
            Tensor(name: "lazy", dtype: .u8, shape: [2], data: counter.producer([1, 2])),
            Tensor(name: "other", dtype: .f32, shape: [2, 2], data: counter.producer([UInt8](repeating: 0, count: 16))),
        ])
        // Planning reads infos only: sizes, validation, lookup, renaming, slicing.
        #expect(model.byteCount == 18)
        #expect(model.parameterCount == 6)
        try model.validate()
        model.tensors[0].name = "renamed"
        #expect(model["renamed"]?.info.byteCount == 2)
        let firstByte = model.tensors[0].data.slice(0..<1)
        #expect(counter.pulls == 0)
        // Each pull runs the producer once.
        #expect(try model.tensors[0].withBytes { Array($0) } == [1, 2])
        #expect(counter.pulls == 1)
        #expect(try firstByte.withBytes { Array($0) } == [1])
        #expect(counter.pulls == 2)
    }

    @Test func modelValidationRejectsDuplicates() {
        let t = Tensor(name: "a", dtype: .u8, shape: [1], data: .owned(TensorBuffer([1])))
        #expect(throws: ModelError.self) { try Model(tensors: [t, t]).validate() }
    }
}
