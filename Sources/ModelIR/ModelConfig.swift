import BinaryIO

/// The model families ModelPort knows how to name, convert and run.
public enum Architecture: String, CaseIterable, Sendable {
    case bert, roberta, albert, structbert, cocolm, perceiver, unknown

    /// The Hugging Face `architectures` entry for the bare model.
    public var huggingFaceModelClass: String? {
        switch self {
        case .bert, .structbert: return "BertModel"
        case .roberta: return "RobertaModel"
        case .albert: return "AlbertModel"
        case .cocolm: return "COCOLMModel"
        case .perceiver: return "PerceiverForMaskedLM"
        case .unknown: return nil
        }
    }
}

/// An architecture's hyper-parameters, typed where ModelPort uses them, with every key of the source
/// `config.json` kept in order (numbers as their exact text), so a round trip loses nothing.
public struct ModelConfig: Sendable, Equatable {
    /// All keys, in the order read or set.
    public private(set) var members: [(key: String, value: JSON)]

    public init(members: [(key: String, value: JSON)] = []) { self.members = members }

    public static func == (lhs: ModelConfig, rhs: ModelConfig) -> Bool { JSON.object(lhs.members) == JSON.object(rhs.members) }

    /// The raw value of `key`.
    public subscript(key: String) -> JSON? {
        get { members.first { $0.key == key }?.value }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append((key, newValue))
            }
        }
    }

    /// The family, from `model_type` (`unknown` when absent or unrecognized).
    public var architecture: Architecture {
        get {
            guard let type = self["model_type"]?.stringValue?.lowercased() else {
                // The released COCO-LM configs name no model_type; their relative-position keys identify them.
                return self["rel_pos_bins"] != nil && self["max_rel_pos"] != nil ? .cocolm : .unknown
            }
            switch type {
            case "bert": return .bert
            case "roberta": return .roberta
            case "albert": return .albert
            case "structbert": return .structbert
            case "cocolm", "coco-lm", "coco_lm": return .cocolm
            case "perceiver": return .perceiver
            default: return .unknown
            }
        }
        set { self["model_type"] = newValue == .unknown ? nil : .string(newValue.rawValue) }
    }

    public var hiddenSize: Int? { get { int("hidden_size") } set { setInt("hidden_size", newValue) } }
    public var numHiddenLayers: Int? { get { int("num_hidden_layers") } set { setInt("num_hidden_layers", newValue) } }
    public var numAttentionHeads: Int? { get { int("num_attention_heads") } set { setInt("num_attention_heads", newValue) } }
    public var intermediateSize: Int? { get { int("intermediate_size") } set { setInt("intermediate_size", newValue) } }
    public var vocabSize: Int? { get { int("vocab_size") } set { setInt("vocab_size", newValue) } }
    public var maxPositionEmbeddings: Int? {
        get { int("max_position_embeddings") } set { setInt("max_position_embeddings", newValue) }
    }
    public var typeVocabSize: Int? { get { int("type_vocab_size") } set { setInt("type_vocab_size", newValue) } }
    /// ALBERT's factorized embedding width.
    public var embeddingSize: Int? { get { int("embedding_size") } set { setInt("embedding_size", newValue) } }
    public var padTokenId: Int? { get { int("pad_token_id") } set { setInt("pad_token_id", newValue) } }
    public var layerNormEps: Double? {
        get { self["layer_norm_eps"]?.doubleValue }
        set { self["layer_norm_eps"] = newValue.map(JSON.double) }
    }
    /// The activation (`gelu`, `gelu_new`, `relu`, ...).
    public var hiddenAct: String? {
        get { self["hidden_act"]?.stringValue }
        set { self["hidden_act"] = newValue.map(JSON.string) }
    }

    private func int(_ key: String) -> Int? { self[key]?.intValue }
    private mutating func setInt(_ key: String, _ value: Int?) { self[key] = value.map(JSON.integer) }
}

extension ModelConfig {
    /// Reads a Hugging Face `config.json` document, which must be a JSON object.
    public init(huggingFaceJSON json: JSON, file: String? = nil) throws {
        guard case .object(let members) = json else {
            throw ModelError(file: file, "config must be a JSON object, found \(json.kindName)")
        }
        self.init(members: members)
        for key in ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"] {
            if let value = self[key], value.intValue.map({ $0 >= 0 }) != true {
                throw ModelError(file: file, location: .key(key), "must be a non-negative integer, found \(value.serialized())")
            }
        }
    }

    /// Reads `config.json` from disk.
    public init(contentsOf path: String) throws {
        do {
            try self.init(huggingFaceJSON: try JSON.parse(contentsOf: path), file: path)
        } catch {
            throw ModelError(error, file: path)
        }
    }

    /// The document to write as `config.json`: keys sorted as `transformers` writes them, `architectures`
    /// and the dtype key filled in when missing.
    public func huggingFaceJSON(weightsDType: DType?) -> JSON {
        var copy = self
        if copy["architectures"] == nil, let name = architecture.huggingFaceModelClass {
            copy["architectures"] = .array([.string(name)])
        }
        if let weightsDType, let torchName = weightsDType.torchName {
            let key = copy["dtype"] != nil && copy["torch_dtype"] == nil ? "dtype" : "torch_dtype"
            copy[key] = .string(torchName)
        }
        return .object(copy.members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
    }

    /// The text of `config.json`.
    public func huggingFaceText(weightsDType: DType?) -> String {
        huggingFaceJSON(weightsDType: weightsDType).serialized(.pretty) + "\n"
    }
}

extension DType {
    /// The `torch_dtype` spelling in `config.json`, for the float types transformers records.
    public var torchName: String? {
        switch self {
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        case .f32: return "float32"
        case .f64: return "float64"
        default: return nil
        }
    }
}
