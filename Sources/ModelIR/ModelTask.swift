import BinaryIO

/// What a model's weights are for: the head on top of the encoder (`DESIGN.md`, "The IR": the model knows its task).
///
/// The raw values are the spellings `--task` takes.
public enum HeadKind: String, CaseIterable, Sendable {
    /// The bare encoder (`BertModel`): hidden states and the pooler.
    case encoder
    /// BERT's pre-training heads: masked LM and next-sentence (ALBERT: sentence-order) prediction.
    case preTraining = "pre-training"
    /// The masked-LM head alone.
    case maskedLM = "masked-lm"
    /// One set of logits per input (`classifier` on the pooled [CLS] state; Google's `run_classifier.py`).
    case sequenceClassification = "sequence-classification"
    /// One set of logits per token (`classifier` on every hidden state; NER).
    case tokenClassification = "token-classification"
    /// Start and end logits per token (`qa_outputs`; Google's `run_squad.py`).
    case questionAnswering = "question-answering"
    /// A sentence-transformers pipeline: the encoder, pooling, optional Dense layers and normalization.
    case sentenceEmbedding = "sentence-embedding"
    /// A cross-encoder scoring sentence pairs: a sequence classifier, usually with one output.
    case reranker

    /// The Hugging Face class name after the family's prefix (`Bert` + `ForSequenceClassification`).
    public var classSuffix: String {
        switch self {
        case .encoder, .sentenceEmbedding: return "Model"
        case .preTraining: return "ForPreTraining"
        case .maskedLM: return "ForMaskedLM"
        case .sequenceClassification, .reranker: return "ForSequenceClassification"
        case .tokenClassification: return "ForTokenClassification"
        case .questionAnswering: return "ForQuestionAnswering"
        }
    }

    /// Whether the Hugging Face class builds the pooler (`BertForTokenClassification`, `…ForQuestionAnswering` and
    /// `…ForMaskedLM` construct their encoder with `add_pooling_layer=False`).
    public var hasPooler: Bool {
        switch self {
        case .maskedLM, .tokenClassification, .questionAnswering: return false
        default: return true
        }
    }

    /// Whether the head has a classifier whose outputs are labels.
    public var isClassifier: Bool { [.sequenceClassification, .tokenClassification, .reranker].contains(self) }

    /// The class-name suffixes of Hugging Face `architectures` entries, longest first, and the head each names.
    public static let classSuffixes: [(suffix: String, kind: HeadKind)] = [
        ("ForSequenceClassification", .sequenceClassification), ("ForTokenClassification", .tokenClassification),
        ("ForQuestionAnswering", .questionAnswering), ("ForPreTraining", .preTraining), ("ForMaskedLM", .maskedLM),
        ("Model", .encoder),
    ]

    /// Canonical head tensors (Hugging Face names, outside the encoder's `bert.` / `albert.` prefix) and the head each
    /// shows, in the order tried: the pre-training heads hold a masked-LM head too, and a token classifier's tensors
    /// are a sequence classifier's (only the config or `--task` tells them apart).
    public static let tensorRules: [(name: String, kind: HeadKind)] = [
        ("qa_outputs.weight", .questionAnswering),
        ("classifier.weight", .sequenceClassification),
        ("classifier.out_proj.weight", .sequenceClassification),
        ("cls.seq_relationship.weight", .preTraining),
        ("sop_classifier.classifier.weight", .preTraining),
        ("cls.predictions.bias", .maskedLM),
        ("predictions.bias", .maskedLM),
    ]

    /// The head that a model's tensor names show, if any.
    public static func detect(tensorNames names: some Sequence<String>) -> HeadKind? {
        let present = Set(names)
        return tensorRules.first { present.contains($0.name) }?.kind
    }

    /// The head an `architectures` class name states (`AlbertForQuestionAnswering` → question answering).
    public init?(className: String) {
        guard let match = Self.classSuffixes.first(where: { className.hasSuffix($0.suffix) }) else { return nil }
        self = match.kind
    }

    /// ModelScope `configuration.json` task names (ModelScope's `Tasks` constants) and the head each means.
    public static let modelScopeTasks: [(task: String, kind: HeadKind)] = [
        ("text-classification", .sequenceClassification), ("sentiment-classification", .sequenceClassification),
        ("nli", .sequenceClassification), ("sentence-similarity", .sequenceClassification),
        ("zero-shot-classification", .sequenceClassification), ("text-ranking", .reranker),
        ("token-classification", .tokenClassification), ("named-entity-recognition", .tokenClassification),
        ("word-segmentation", .tokenClassification), ("part-of-speech", .tokenClassification),
        ("fill-mask", .maskedLM), ("sentence-embedding", .sentenceEmbedding),
        ("question-answering", .questionAnswering), ("extractive-question-answering", .questionAnswering),
    ]

    /// The head a ModelScope task names.
    public init?(modelScopeTask task: String) {
        guard let match = Self.modelScopeTasks.first(where: { $0.task == task.lowercased() }) else { return nil }
        self = match.kind
    }

    /// Words for summaries.
    public var description: String {
        switch self {
        case .encoder: return "bare encoder"
        case .preTraining: return "pre-training heads (masked LM + next sentence)"
        case .maskedLM: return "masked LM"
        case .sequenceClassification: return "sequence classification"
        case .tokenClassification: return "token classification"
        case .questionAnswering: return "question answering (start/end logits)"
        case .sentenceEmbedding: return "sentence embedding"
        case .reranker: return "reranker"
        }
    }
}

extension Architecture {
    /// The Hugging Face class-name prefix of the family (`Bert`, `Albert`, `Roberta`); StructBERT's task models load
    /// as BERT classes.
    public var huggingFaceClassPrefix: String? {
        switch self {
        case .bert, .structbert: return "Bert"
        case .roberta: return "Roberta"
        case .albert: return "Albert"
        default: return nil
        }
    }

    /// The prefix the encoder's tensors carry when a head sits beside them (`bert.`, `albert.`, `roberta.`).
    public var basePrefix: String? {
        switch self {
        case .bert, .structbert: return "bert."
        case .roberta: return "roberta."
        case .albert: return "albert."
        default: return nil
        }
    }
}

extension ModelConfig {
    /// The head the config's first `architectures` entry names, if it names one ModelPort knows.
    public var statedHead: HeadKind? {
        guard let name = self["architectures"]?.arrayValue?.first?.stringValue else { return nil }
        return HeadKind(className: name)
    }

    /// The labels in id order, from `id2label` (keys "0", "1", …); nil when absent or not 0…n−1.
    public var labels: [String]? {
        guard case .object(let entries)? = self["id2label"], !entries.isEmpty else { return nil }
        var labels = [String?](repeating: nil, count: entries.count)
        for (key, value) in entries {
            guard let id = Int(key), labels.indices.contains(id), labels[id] == nil, let label = value.stringValue else { return nil }
            labels[id] = label
        }
        return labels.compactMap { $0 }
    }

    /// `num_labels` as transformers reads it: the size of `id2label`, or the `num_labels` / Paddle `num_classes` key.
    public var labelCount: Int? {
        labels?.count ?? self["num_labels"]?.intValue ?? self["num_classes"]?.intValue
    }

    /// Writes the task as transformers keeps it: `architectures` (`BertForSequenceClassification`), and for
    /// classifiers `id2label` / `label2id` (whose size is `num_labels`).
    public mutating func setTask(_ kind: HeadKind, labels: [String]?) {
        if let prefix = architecture.huggingFaceClassPrefix {
            self["architectures"] = .array([.string(prefix + kind.classSuffix)])
        }
        guard let labels, kind.isClassifier else { return }
        self["id2label"] = .object(labels.enumerated().map { (String($0.offset), .string($0.element)) })
        self["label2id"] = .object(labels.enumerated().map { ($0.element, .integer($0.offset)) })
        self["num_labels"] = nil
        self["num_classes"] = nil
    }
}

/// How sentence-transformers pools token states into one vector (`1_Pooling/config.json`).
public enum PoolingMode: String, Sendable, CaseIterable {
    case cls, mean, max, lastToken = "lasttoken"
}

/// A sentence-transformers `Dense` module (`2_Dense/`): `activation(W·x + b)`.
public struct DenseLayer: Sendable {
    public var weight: Tensor
    public var bias: Tensor?
    /// The activation's class name as saved (`torch.nn.modules.activation.Tanh`, `…Identity`).
    public var activation: String

    public init(weight: Tensor, bias: Tensor?, activation: String) {
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }
}

/// The sentence-transformers modules after the encoder, as `modules.json` lists them.
public struct SentencePipeline: Sendable {
    public var pooling: PoolingMode
    /// Whether the pooled vector also gets the `include_prompt`-free defaults (kept only for reports).
    public var dense: [DenseLayer]
    public var normalize: Bool

    public init(pooling: PoolingMode, dense: [DenseLayer] = [], normalize: Bool = false) {
        self.pooling = pooling
        self.dense = dense
        self.normalize = normalize
    }
}

/// The head, labels and pipeline of a model.
public struct ModelTask: Sendable {
    public var head: HeadKind
    /// Classifier labels in id order (empty for heads without labels).
    public var labels: [String]
    /// transformers' `problem_type` (`single_label_classification`, `multi_label_classification`, `regression`).
    public var problemType: String?
}

extension Model {
    /// The task the config states (when it names a head), else the one the head tensors show; a one-label sequence
    /// classifier is a reranker, and a bare encoder with a sentence-transformers pipeline a sentence embedder.
    public var task: ModelTask {
        var head = config.statedHead ?? .encoder
        if head == .encoder, let shown = HeadKind.detect(tensorNames: tensors.map(\.name)) { head = shown }
        if head == .encoder, pipeline != nil { head = .sentenceEmbedding }
        let labels = config.labels ?? []
        if head == .sequenceClassification, (labels.count == 1 || config.labelCount == 1) { head = .reranker }
        return ModelTask(head: head, labels: head.isClassifier ? labels : [], problemType: config["problem_type"]?.stringValue)
    }
}
