import ModelIR
import Transforms

/// Google's TensorFlow BERT and ALBERT names as Hugging Face names (transformers' `load_tf_weights_in_bert` and
/// `load_tf_weights_in_albert`), as data.
extension NameMap {
    /// Optimizer state and bookkeeping that inference never needs (Google BERT's AdamWeightDecayOptimizer
    /// slots, Keras/TF2 slots, step counters).
    public static let optimizerState: [(contains: String, kind: DroppedTensor.Kind, reason: String)] = [
        ("/adam_m", .trainingState, "optimizer slot"), ("/adam_v", .trainingState, "optimizer slot"), ("AdamWeightDecayOptimizer", .trainingState, "optimizer slot"),
        ("/.OPTIMIZER_SLOT/", .trainingState, "optimizer slot"), ("optimizer/", .trainingState, "optimizer state"), ("global_step", .trainingState, "step counter"),
        ("save_counter", .trainingState, "step counter"),
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
    public static let fineTunedHeads: [NameRule] = [
        .exact("output_weights", "classifier.weight"), .exact("output_bias", "classifier.bias"),
        .exact("cls.squad.output_weights", "qa_outputs.weight"), .exact("cls.squad.output_bias", "qa_outputs.bias"),
    ]

    /// Source names of those heads (before renaming).
    public static let fineTunedHeadNames = ["output_weights", "output_bias", "cls/squad/"]

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
