extension ModelConfig {
    /// What the tensor names and shapes tell about the architecture, for a model without a config file.
    ///
    /// Recognizes Hugging Face BERT-style names (with or without a `bert.`/`roberta.` prefix) and ALBERT's
    /// layer groups. The head count cannot be seen in the shapes; it is taken as hidden/64 (the BERT
    /// convention) and `notes` says so.
    public static func inferred(from tensors: [TensorInfo]) -> (config: ModelConfig, notes: [Note]) {
        var config = ModelConfig()
        var notes: [Note] = []
        func find(_ suffix: String) -> TensorInfo? { tensors.first { $0.name.hasSuffix(suffix) } }

        let names = tensors.map(\.name)
        if names.contains(where: { $0.contains("albert_layer_groups.") }) {
            config.architecture = .albert
        } else if names.contains(where: { $0.hasPrefix("roberta.") }) {
            config.architecture = .roberta
        } else if names.contains(where: { $0.contains("encoder.layer.") }) {
            config.architecture = .bert
        }
        guard config.architecture != .unknown else {
            return (config, ["no config.json and the tensor names match no known architecture"])
        }

        if let words = find("embeddings.word_embeddings.weight"), words.shape.rank == 2 {
            config.vocabSize = words.shape[0]
            if config.architecture == .albert { config.embeddingSize = words.shape[1] } else { config.hiddenSize = words.shape[1] }
        }
        if let positions = find("embeddings.position_embeddings.weight"), positions.shape.rank == 2 {
            config.maxPositionEmbeddings = positions.shape[0]
        }
        if let types = find("embeddings.token_type_embeddings.weight"), types.shape.rank == 2 {
            config.typeVocabSize = types.shape[0]
        }
        if config.architecture == .albert {
            if let mapping = find("encoder.embedding_hidden_mapping_in.weight"), mapping.shape.rank == 2 {
                config.hiddenSize = mapping.shape[0]
            }
            if let ffn = tensors.first(where: { $0.name.hasSuffix(".ffn.weight") }), ffn.shape.rank == 2 {
                config.intermediateSize = ffn.shape[0]
            }
            notes.append(Note(.inferred, "ALBERT layer count is not visible in the weights; num_hidden_layers is left unset"))
        } else {
            let layers = Set(names.compactMap(LayerName.index(in:)))
            config.numHiddenLayers = layers.count
            if let intermediate = find("intermediate.dense.weight"), intermediate.shape.rank == 2 {
                config.intermediateSize = intermediate.shape[0]
            }
        }
        if let hidden = config.hiddenSize, hidden % 64 == 0 {
            config.numAttentionHeads = hidden / 64
            notes.append(Note(.inferred, "no config.json: num_attention_heads assumed to be hidden_size/64 = \(hidden / 64)"))
        } else {
            notes.append(Note(.inferred, "no config.json: num_attention_heads is unknown"))
        }
        config.layerNormEps = 1e-12
        config.hiddenAct = "gelu"
        return (config, notes)
    }
}

/// How encoder layers are named: BERT-style `encoder.layer.{i}.` and Perceiver IO's latent
/// `encoder.self_attends.{i}.` (any prefix before them), shared by inference, layer selection and the verifier.
public enum LayerName {
    /// The markers that precede a layer index, tried in order.
    public static let markers = ["encoder.layer.", "encoder.self_attends."]

    static func match(_ name: String) -> (end: String.Index, digits: Substring)? {
        for marker in markers {
            guard let range = name.firstRange(of: marker) else { continue }
            let rest = name[range.upperBound...]
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, rest.dropFirst(digits.count).first == "." else { continue }
            return (range.upperBound, digits)
        }
        return nil
    }

    /// The layer index in `name`, if it names a tensor of an encoder layer.
    public static func index(in name: String) -> Int? {
        match(name).flatMap { Int($0.digits) }
    }

    /// `name` with its layer index replaced by `newIndex`.
    public static func renumbered(_ name: String, to newIndex: Int) -> String {
        guard let (end, digits) = match(name) else { return name }
        return String(name[..<end]) + String(newIndex) + String(name[end...].dropFirst(digits.count))
    }
}
