/// What Hugging Face tensor names say about a tensor, in one place: which model prefix they carry, which are heads,
/// norms or the weights of Linear layers. Transforms, outputs, the verifier and reports ask here instead of each
/// keeping its own list.
public enum TensorNames {
    /// The prefixes transformers puts before the encoder's names in task classes (`BertForSequenceClassification`
    /// holds `bert.embeddings.…`), sentence-transformers' and ModelScope's variants, and `model.`.
    public static let modelPrefixes = ["bert.", "roberta.", "albert.", "sbert.", "structbert.", "cocolm.", "perceiver.", "model."]

    /// `name` without its model prefix, and the prefix ("" when it has none).
    public static func splitModelPrefix(_ name: String) -> (prefix: String, rest: String) {
        guard let prefix = modelPrefixes.first(where: name.hasPrefix) else { return ("", name) }
        return (prefix, String(name.dropFirst(prefix.count)))
    }

    /// The pooler and the pre-training heads (MLM, NSP / SOP), after the model prefix: what "drop the heads"
    /// removes. Task heads (`classifier.`, `qa_outputs.`) are not among them.
    public static let poolerAndPreTrainingPrefixes = ["pooler.", "cls.", "predictions.", "sop_classifier.", "lm_head."]

    /// Whether `name` belongs to the pooler or a pre-training head.
    public static func isPoolerOrPreTrainingHead(_ name: String) -> Bool {
        let rest = splitModelPrefix(name).rest
        return poolerAndPreTrainingPrefixes.contains(where: rest.hasPrefix)
    }

    /// Whether `name` is a normalization's parameter (`LayerNorm`, `layernorm`, `layer_norm`, GGUF's `*_norm.`).
    public static func isNorm(_ name: String) -> Bool {
        name.contains("LayerNorm") || name.contains("layernorm") || name.contains("layer_norm") || name.contains("_norm.")
    }

    /// Whether `tensor` is the weight of a Linear layer: a matrix named `.weight` that is not an embedding table, a
    /// norm, or a decoder tied to the word embeddings (as compressed-tensors' `targets: ["Linear"]` selects).
    public static func isLinearWeight(_ tensor: Tensor) -> Bool {
        let name = tensor.name
        return tensor.shape.rank == 2 && name.hasSuffix(".weight") && !name.contains("embeddings") && !isNorm(name)
            && !name.hasSuffix("decoder.weight")
    }
}
