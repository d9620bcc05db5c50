import BinaryIO
import ModelIR
import TestSupport
import Testing
import TensorFlowFormat
import Transforms

@Suite struct NameMapTests {
    static let googleBERT: [(String, String)] = [
        ("bert/embeddings/word_embeddings", "bert.embeddings.word_embeddings.weight"),
        ("bert/embeddings/token_type_embeddings", "bert.embeddings.token_type_embeddings.weight"),
        ("bert/embeddings/LayerNorm/gamma", "bert.embeddings.LayerNorm.weight"),
        ("bert/encoder/layer_11/attention/self/query/kernel", "bert.encoder.layer.11.attention.self.query.weight"),
        ("bert/encoder/layer_3/attention/output/LayerNorm/beta", "bert.encoder.layer.3.attention.output.LayerNorm.bias"),
        ("bert/encoder/layer_0/intermediate/dense/kernel", "bert.encoder.layer.0.intermediate.dense.weight"),
        ("bert/pooler/dense/bias", "bert.pooler.dense.bias"),
        ("cls/predictions/transform/LayerNorm/gamma", "cls.predictions.transform.LayerNorm.weight"),
        ("cls/predictions/output_bias", "cls.predictions.bias"),
        ("cls/seq_relationship/output_weights", "cls.seq_relationship.weight"),
    ]

    @Test(arguments: googleBERT)
    func mapsGoogleBERTNames(tf: String, hf: String) {
        #expect(NameMap.googleBERT.renamed(tf) == hf)
    }

    static let googleALBERT: [(String, String)] = [
        ("bert/embeddings/LayerNorm/beta", "albert.embeddings.LayerNorm.bias"),
        ("bert/encoder/embedding_hidden_mapping_in/kernel", "albert.encoder.embedding_hidden_mapping_in.weight"),
        ("bert/encoder/transformer/group_0/inner_group_0/attention_1/self/key/bias",
         "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.key.bias"),
        ("bert/encoder/transformer/group_0/inner_group_0/attention_1/output/dense/kernel",
         "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.dense.weight"),
        ("bert/encoder/transformer/group_0/inner_group_0/LayerNorm/gamma",
         "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.LayerNorm.weight"),
        ("bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/dense/kernel",
         "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight"),
        ("bert/encoder/transformer/group_0/inner_group_0/ffn_1/intermediate/output/dense/bias",
         "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn_output.bias"),
        ("bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/beta",
         "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.bias"),
        ("bert/pooler/dense/kernel", "albert.pooler.weight"),
        ("cls/predictions/transform/dense/kernel", "predictions.dense.weight"),
        ("cls/predictions/transform/LayerNorm/gamma", "predictions.LayerNorm.weight"),
        ("cls/predictions/output_bias", "predictions.bias"),
        ("cls/seq_relationship/output_weights", "sop_classifier.classifier.weight"),
    ]

    @Test(arguments: googleALBERT)
    func mapsGoogleALBERTNames(tf: String, hf: String) {
        #expect(NameMap.googleALBERT.renamed(tf) == hf)
    }

    func tensor(_ name: String, _ shape: Shape) -> Tensor {
        let count = shape.elementCount! * 4
        return Tensor(name: name, dtype: .f32, shape: shape, data: .owned(TensorBuffer((0..<count).map { UInt8($0 % 251) })))
    }

    @Test func transposesKernelsSkipsSlotsAndStripsTheBasePrefix() throws {
        let model = Model(tensors: [
            tensor("bert/encoder/layer_0/output/dense/kernel", [2, 3]),
            tensor("bert/encoder/layer_0/output/dense/kernel/adam_m", [2, 3]),
            tensor("bert/embeddings/word_embeddings", [5, 3]),
            Tensor(name: "global_step", dtype: .i64, shape: [], data: .owned(TensorBuffer(count: 8))),
        ])
        let mapped = try NameMap.googleBERT.apply(to: model)
        #expect(mapped.tensors.map(\.name) == ["encoder.layer.0.output.dense.weight", "embeddings.word_embeddings.weight"])
        #expect(mapped.dropped.map(\.reason) == ["optimizer slot", "step counter"])
        let kernel = mapped.tensors[0]
        #expect(kernel.shape == [3, 2])
        let bytes = try kernel.withBytes { Array($0) }
        // Source row-major [[e0 e1 e2] [e3 e4 e5]] (4 bytes each) → [[e0 e3] [e1 e4] [e2 e5]].
        let order = [0, 3, 1, 4, 2, 5].flatMap { e in (0..<4).map { UInt8((e * 4 + $0) % 251) } }
        #expect(bytes == order)
        #expect(mapped.tensors[1].shape == [5, 3])
    }

    @Test func unknownNamesAreKeptOrRefusedWhenStrict() throws {
        let model = Model(tensors: [tensor("bert/pooler/dense/bias", [3]), tensor("my_head/w", [3])])
        let mapped = try NameMap.googleBERT.apply(to: model)
        #expect(mapped["my_head/w"] != nil)
        #expect(mapped.notes.contains { $0.text.contains("1 tensors match no Google BERT (TF) rule") })
        #expect {
            try NameMap.googleBERT.apply(to: model, strict: true)
        } throws: { ($0 as? ModelError)?.location == .tensor("my_head/w") }
    }
}
