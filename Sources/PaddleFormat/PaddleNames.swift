import ModelIR
import Transforms

/// PaddleNLP's and Paddle 1.x static-graph BERT names as Hugging Face names, and back, as data.
extension NameMap {
    /// PaddleNLP BERT / RoBERTa names (`encoder.layers.N.self_attn.q_proj`, `linear1`, `norm1`) → Hugging Face
    /// BERT names (PaddleNLP's `transformers/bert/modeling.py`); Paddle's Linear weights are [in, out] and are transposed.
    public static let paddleNLP: NameMap = {
        var map = NameMap(
            name: "PaddleNLP BERT",
            skip: [],
            knownPrefixes: ["bert.", "roberta.", "ernie.", "embeddings.", "encoder.", "pooler.", "cls.", "lm_head.", "classifier."],
            transposeSuffixes: [],
            rules: [
                .prefix("roberta.", "bert."), .prefix("ernie.", "bert."),
                .replace("embeddings.layer_norm.", "embeddings.LayerNorm."),
                .numbered("encoder.layers.", "encoder.layer."),
                .replace(".self_attn.q_proj.", ".attention.self.query."), .replace(".self_attn.k_proj.", ".attention.self.key."),
                .replace(".self_attn.v_proj.", ".attention.self.value."), .replace(".self_attn.out_proj.", ".attention.output.dense."),
                .replace(".linear1.", ".intermediate.dense."), .replace(".linear2.", ".output.dense."),
                .replace(".norm1.", ".attention.output.LayerNorm."), .replace(".norm2.", ".output.LayerNorm."),
            ],
            basePrefix: "bert.",
            headPrefixes: ["cls.", "lm_head.", "classifier."]
        )
        map.transposeLinearWeights = true
        return map
    }()

    /// Paddle 1.x static-graph BERT / ERNIE names (PaddleHub 1.x modules, `save_inference_model`, `paddle.static.save`:
    /// `word_embedding`, `encoder_layer_N_multi_head_att_query_fc.w_0`, `encoder_layer_N_ffn_fc_0.w_0`, `pooled_fc`)
    /// → Hugging Face BERT names (the Paddle 1.x static-graph BERT of PaddleHub / ERNIE); every `fc.w_0` is [in, out] and is transposed.
    public static let paddleStatic = NameMap(
        name: "Paddle static BERT",
        skip: [("_moment1_", .trainingState, "optimizer slot"), ("_moment2_", .trainingState, "optimizer slot"), ("_beta1_pow_acc", .trainingState, "optimizer slot"),
               ("_beta2_pow_acc", .trainingState, "optimizer slot"), ("learning_rate", .trainingState, "optimizer state"), ("@LR_DECAY_COUNTER@", .trainingState, "step counter")],
        knownPrefixes: ["word_embedding", "pos_embedding", "sent_embedding", "pre_encoder_layer_norm_", "encoder_layer_", "pooled_fc.",
                        "mask_lm_", "next_sent_fc."],
        transposeSuffixes: [".w_0"],
        rules: [
            .exact("word_embedding", "embeddings.word_embeddings.weight"),
            .exact("pos_embedding", "embeddings.position_embeddings.weight"),
            .exact("sent_embedding", "embeddings.token_type_embeddings.weight"),
            .prefix("pre_encoder_layer_norm_", "embeddings.LayerNorm_"),
            .numbered("encoder_layer_", "encoder.layer."),
            .replace("_multi_head_att_query_fc.", ".attention.self.query."),
            .replace("_multi_head_att_key_fc.", ".attention.self.key."),
            .replace("_multi_head_att_value_fc.", ".attention.self.value."),
            .replace("_multi_head_att_output_fc.", ".attention.output.dense."),
            .replace("_post_att_layer_norm_", ".attention.output.LayerNorm_"),
            .replace("_ffn_fc_0.", ".intermediate.dense."),
            .replace("_ffn_fc_1.", ".output.dense."),
            .replace("_post_ffn_layer_norm_", ".output.LayerNorm_"),
            .prefix("pooled_fc.", "pooler.dense."),
            .exact("mask_lm_out_fc.b_0", "cls.predictions.bias"),
            .prefix("mask_lm_trans_fc.", "cls.predictions.transform.dense."),
            .prefix("mask_lm_trans_layer_norm_", "cls.predictions.transform.LayerNorm_"),
            .prefix("next_sent_fc.", "cls.seq_relationship."),
            .suffix(".w_0", ".weight"), .suffix(".b_0", ".bias"),
            .suffix("LayerNorm_scale", "LayerNorm.weight"), .suffix("LayerNorm_bias", "LayerNorm.bias"),
        ],
        basePrefix: nil,
        headPrefixes: []
    )

    /// Hugging Face BERT names → PaddleNLP `BertModel` names under the `bert.` prefix (the reverse of `paddleNLP`,
    /// for `--to paddle`); Linear weights are transposed to Paddle's [in, out].
    public static let toPaddleNLP: NameMap = {
        var map = NameMap(
            name: "Hugging Face BERT → PaddleNLP",
            skip: [("position_ids", .buffer, "position_ids buffer (PaddleNLP computes them)")],
            knownPrefixes: ["bert.", "embeddings.", "encoder.", "pooler.", "classifier.", "qa_outputs."],
            transposeSuffixes: [],
            rules: [
                .prefix("qa_outputs.", "classifier."),  // PaddleNLP's BertForQuestionAnswering names its Linear `classifier`
                .prefix("embeddings.", "bert.embeddings."), .prefix("encoder.", "bert.encoder."), .prefix("pooler.", "bert.pooler."),
                .replace("embeddings.LayerNorm.", "embeddings.layer_norm."),
                .numbered("encoder.layer.", "encoder.layers."),
                .replace(".attention.self.query.", ".self_attn.q_proj."), .replace(".attention.self.key.", ".self_attn.k_proj."),
                .replace(".attention.self.value.", ".self_attn.v_proj."), .replace(".attention.output.dense.", ".self_attn.out_proj."),
                .replace(".attention.output.LayerNorm.", ".norm1."),
                .replace(".intermediate.dense.", ".linear1."), .replace(".output.dense.", ".linear2."),
                .replace(".output.LayerNorm.", ".norm2."),
            ],
            basePrefix: nil,
            headPrefixes: []
        )
        map.transposeLinearWeights = true
        return map
    }()

    /// The Paddle map for these names: static-graph names when the model has any, PaddleNLP names otherwise.
    public static func paddle(for names: [String]) -> NameMap {
        names.contains { $0 == "word_embedding" || $0.hasPrefix("encoder_layer_") } ? paddleStatic : paddleNLP
    }
}
