import ModelIR

/// One step of a name map, applied to a tensor's name in order (rules are data, not code branches).
public enum NameRule: Sendable {
    /// Replace every occurrence of a substring.
    case replace(String, String)
    /// Replace `prefix` followed by digits with `replacement` followed by the same digits
    /// (`layer_3` → `layer.3`).
    case numbered(String, String)
    /// Replace a suffix.
    case suffix(String, String)
    /// Replace a prefix.
    case prefix(String, String)
    /// Replace the whole name when it equals the first string.
    case exact(String, String)
}

/// How to turn one checkpoint convention's names into canonical Hugging Face names: which tensors to skip
/// (optimizer state), which to transpose, and the ordered rename rules.
public struct NameMap: Sendable {
    /// A human name for reports (`Google BERT (TF1)`).
    public var name: String
    /// Source names containing any of these are dropped, with the reason given.
    public var skip: [(contains: String, reason: String)]
    /// Source names that the map knows; others are kept under their own name and reported.
    public var knownPrefixes: [String]
    /// Source names ending with one of these are rank-2 kernels stored [in, out]: transposed.
    public var transposeSuffixes: [String]
    /// Also transpose every rank-2 `.weight` that is not an embedding table (Paddle's Linear is [in, out]).
    public var transposeLinearWeights = false
    public var rules: [NameRule]
    /// After renaming: when no tensor starts with one of `headPrefixes`, this prefix is removed (a bare
    /// encoder is saved under `BertModel` names, one with heads under `BertForPreTraining` names).
    public var basePrefix: String?
    public var headPrefixes: [String]

    /// `name` after the rules.
    public func renamed(_ name: String) -> String {
        var result = name
        for rule in rules {
            switch rule {
            case let .replace(old, new):
                result = result.replacing(old, with: new)
            case let .suffix(old, new):
                if result.hasSuffix(old) { result = String(result.dropLast(old.count)) + new }
            case let .prefix(old, new):
                if result.hasPrefix(old) { result = new + String(result.dropFirst(old.count)) }
            case let .exact(old, new):
                if result == old { result = new }
            case let .numbered(prefix, replacement):
                result = replacingNumbered(result, prefix: prefix, with: replacement)
            }
        }
        return result
    }

    /// Applies the map to a model: skips, transposes and renames lazily; unknown names are kept and noted
    /// (or, with `strict`, are an error).
    public func apply(to model: Model, strict: Bool = false) throws -> Model {
        var result = model
        result.tensors = []
        var unknown: [String] = []
        for tensor in model.tensors {
            if let rule = skip.first(where: { tensor.name.contains($0.contains) }) {
                result.dropped.append(DroppedTensor(name: tensor.name, reason: rule.reason, byteCount: tensor.info.byteCount ?? 0))
                continue
            }
            guard knownPrefixes.contains(where: { tensor.name.hasPrefix($0) }) else {
                if strict { throw ModelError(location: .tensor(tensor.name), "matches no \(name) naming rule (--strict)") }
                unknown.append(tensor.name)
                result.tensors.append(tensor)
                continue
            }
            var mapped = tensor
            let linear = transposeLinearWeights && tensor.name.hasSuffix(".weight") && !tensor.name.contains("embeddings")
            if transposeSuffixes.contains(where: { tensor.name.hasSuffix($0) }) || linear, tensor.shape.rank == 2 {
                mapped = try tensor.transposed()
            }
            mapped.name = renamed(tensor.name)
            result.tensors.append(mapped)
        }
        if let basePrefix, !result.tensors.contains(where: { t in headPrefixes.contains { t.name.hasPrefix($0) } }) {
            result.tensors = result.tensors.map { tensor in
                var tensor = tensor
                if tensor.name.hasPrefix(basePrefix) { tensor.name = String(tensor.name.dropFirst(basePrefix.count)) }
                return tensor
            }
        }
        if !unknown.isEmpty {
            let shown = unknown.prefix(5).joined(separator: ", ") + (unknown.count > 5 ? ", …" : "")
            result.notes.append("\(unknown.count) tensors match no \(name) rule and keep their names: \(shown)")
        }
        try result.validate()
        return result
    }
}

private func replacingNumbered(_ text: String, prefix: String, with replacement: String) -> String {
    var result = ""
    var rest = Substring(text)
    while let range = rest.firstRange(of: prefix) {
        let after = rest[range.upperBound...]
        let digits = after.prefix { $0.isASCII && $0.isNumber }
        result += rest[..<range.lowerBound]
        if digits.isEmpty {
            result += prefix
        } else {
            result += replacement + digits
        }
        rest = after.dropFirst(digits.count)
    }
    return result + rest
}

extension NameMap {
    /// Optimizer state and bookkeeping that inference never needs (Google BERT's AdamWeightDecayOptimizer
    /// slots, Keras/TF2 slots, step counters).
    static let optimizerState: [(contains: String, reason: String)] = [
        ("/adam_m", "optimizer slot"), ("/adam_v", "optimizer slot"), ("AdamWeightDecayOptimizer", "optimizer slot"),
        ("/.OPTIMIZER_SLOT/", "optimizer slot"), ("optimizer/", "optimizer state"), ("global_step", "step counter"),
        ("save_counter", "step counter"),
    ]

    /// TF1 Google BERT names (`bert/encoder/layer_3/attention/self/query/kernel`) → Hugging Face BERT names
    /// (transformers' `load_tf_weights_in_bert`).
    public static let googleBERT = NameMap(
        name: "Google BERT (TF)",
        skip: optimizerState,
        knownPrefixes: ["bert/", "cls/"] + fineTunedHeadNames,
        transposeSuffixes: ["/kernel"],
        rules: [
            .numbered("layer_", "layer."),
            .replace("/", "."),
            .suffix("_embeddings", "_embeddings.weight"),
            .suffix(".gamma", ".weight"),
            .suffix(".beta", ".bias"),
            .suffix(".kernel", ".weight"),
            .replace("cls.predictions.output_bias", "cls.predictions.bias"),
            .replace("cls.seq_relationship.output_weights", "cls.seq_relationship.weight"),
            .replace("cls.seq_relationship.output_bias", "cls.seq_relationship.bias"),
        ] + fineTunedHeads,
        basePrefix: "bert.",
        headPrefixes: ["cls.", "classifier.", "qa_outputs."]
    )

    /// The heads Google's fine-tuning scripts add beside `bert/`, already [out, in]: `run_classifier.py`'s
    /// `output_weights [num_labels, hidden]` / `output_bias` (token taggers built on it use the same names) and
    /// `run_squad.py`'s `cls/squad/output_weights [2, hidden]` / `output_bias`; ALBERT's `classifier_utils.py` and
    /// `squad_utils.py` name them the same way. Applied after `/` became `.`.
    static let fineTunedHeads: [NameRule] = [
        .exact("output_weights", "classifier.weight"), .exact("output_bias", "classifier.bias"),
        .exact("cls.squad.output_weights", "qa_outputs.weight"), .exact("cls.squad.output_bias", "qa_outputs.bias"),
    ]

    /// Source names of those heads (before renaming).
    static let fineTunedHeadNames = ["output_weights", "output_bias", "cls/squad/"]

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
        skip: [("_moment1_", "optimizer slot"), ("_moment2_", "optimizer slot"), ("_beta1_pow_acc", "optimizer slot"),
               ("_beta2_pow_acc", "optimizer slot"), ("learning_rate", "optimizer state"), ("@LR_DECAY_COUNTER@", "step counter")],
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
            skip: [("position_ids", "position_ids buffer (PaddleNLP computes them)")],
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

    /// TF1 Google ALBERT names (`bert/encoder/transformer/group_0/inner_group_0/attention_1/self/query/kernel`)
    /// → Hugging Face ALBERT names (`encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight`).
    public static let googleALBERT = NameMap(
        name: "Google ALBERT (TF)",
        skip: optimizerState,
        knownPrefixes: ["bert/", "cls/"] + fineTunedHeadNames,
        transposeSuffixes: ["/kernel"],
        rules: [
            .replace("ffn_1", "ffn"),
            .replace("bert/", "albert/"),
            .replace("attention_1", "attention"),
            .replace("transform/", ""),
            .replace("LayerNorm_1", "full_layer_layer_norm"),
            .replace("LayerNorm", "attention/LayerNorm"),
            .replace("transformer/", ""),
            .replace("intermediate/dense/", ""),
            .replace("ffn/intermediate/output/dense/", "ffn_output/"),
            .replace("/output/", "/"),
            .replace("/self/", "/"),
            .replace("pooler/dense", "pooler"),
            .replace("cls/predictions", "predictions"),
            .replace("predictions/attention", "predictions"),
            .replace("embeddings/attention", "embeddings"),
            .numbered("inner_group_", "albert_layers/"),
            .numbered("group_", "albert_layer_groups/"),
            .replace("predictions/output_bias", "predictions/bias"),
            .replace("cls/seq_relationship/output_weights", "sop_classifier/classifier/weight"),
            .replace("cls/seq_relationship/output_bias", "sop_classifier/classifier/bias"),
            .replace("/", "."),
            .suffix("_embeddings", "_embeddings.weight"),
            .suffix(".gamma", ".weight"),
            .suffix(".beta", ".bias"),
            .suffix(".kernel", ".weight"),
        ] + fineTunedHeads,
        basePrefix: "albert.",
        headPrefixes: ["predictions.", "sop_classifier.", "classifier.", "qa_outputs."]
    )
}
