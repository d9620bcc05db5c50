import ModelIR
import Verifier

/// What one HTML report shows: a reference model and one or more candidates compared with it (`verify REF A B C`),
/// or a conversion's source and output (`convert … --report out.html`). Plain values: the CLI fills them from
/// what it measured, `ReportPage.html(_:)` draws them, and tests check the page against them.
public struct ComparisonReport: Sendable {
    public enum Kind: Sendable {
        /// `verify`: candidates checked against a reference.
        case verification
        /// `convert`: the quality of a converted (quantized, cast) output against its source.
        case conversion
    }

    public var kind: Kind
    public var reference: ModelFacts
    public var candidates: [CandidateResult]
    /// The inputs in words: `2 sequences × 16 tokens (standard batch)`.
    public var inputs: String
    /// For `--text` inputs: each sequence's tokens as the reference's vocabulary spells them (`[CLS]`, `hello`,
    /// `##world`, …), indexed like `TokenParity.sequence` / `.position`. Empty for other inputs.
    public var tokens: [[String]]
    /// The tool and version that wrote the report.
    public var generator: String

    public init(kind: Kind, reference: ModelFacts, candidates: [CandidateResult], inputs: String, tokens: [[String]] = [],
                generator: String) {
        self.kind = kind
        self.reference = reference
        self.candidates = candidates
        self.inputs = inputs
        self.tokens = tokens
        self.generator = generator
    }

    /// Every candidate passed its tolerance (a candidate without an end-to-end check does not pass).
    public var passed: Bool { !candidates.isEmpty && candidates.allSatisfy(\.passed) }
}

/// The facts of one model, shown side by side with the others'.
public struct ModelFacts: Sendable {
    /// The path as the user gave it.
    public var path: String
    public var format: String
    public var architecture: String
    public var layers: Int?
    public var hiddenSize: Int?
    public var tensorCount: Int
    /// Tensor counts per stored type, most common first.
    public var dtypes: [DTypeCount]
    public var parameters: Int?
    /// The bytes of all tensors as stored.
    public var bytes: Int?
    /// How packed weights are stored (`MLX affine 4-bit, groups of 64`), nil for plain tensors.
    public var quantization: String?
    public var dropped: [DroppedTensor]
    public var notes: [String]

    public init(path: String, format: String, architecture: String, layers: Int? = nil, hiddenSize: Int? = nil, tensorCount: Int,
                dtypes: [DTypeCount], parameters: Int?, bytes: Int?, quantization: String? = nil, dropped: [DroppedTensor] = [],
                notes: [String] = []) {
        self.path = path
        self.format = format
        self.architecture = architecture
        self.layers = layers
        self.hiddenSize = hiddenSize
        self.tensorCount = tensorCount
        self.dtypes = dtypes
        self.parameters = parameters
        self.bytes = bytes
        self.quantization = quantization
        self.dropped = dropped
        self.notes = notes
    }
}

/// How many tensors a model stores in one type (`q4_k`: 73).
public struct DTypeCount: Sendable, Equatable {
    public var dtype: String
    public var count: Int

    public init(dtype: String, count: Int) {
        self.dtype = dtype
        self.count = count
    }
}

/// One candidate's results.
public struct CandidateResult: Sendable {
    public var facts: ModelFacts
    /// The end-to-end comparison; nil when it could not run (the reason is in `notes`).
    public var parity: ParityReport?
    /// Every tensor whose type changed, measured against the reference's (empty when none did).
    public var tensors: [TensorRow]
    /// Head outputs compared, when the verifier computed them.
    public var heads: [HeadResult]
    public var notes: [String]

    public init(facts: ModelFacts, parity: ParityReport?, tensors: [TensorRow] = [], heads: [HeadResult]? = nil, notes: [String] = []) {
        self.facts = facts
        self.parity = parity
        self.tensors = tensors
        self.heads = heads ?? parity.map(HeadResult.results(of:)) ?? []
        self.notes = notes
    }

    /// The end-to-end verdict (false when nothing was measured).
    public var passed: Bool { parity?.passed ?? false }

    /// A short name for legends: the file or folder name.
    public var label: String { ModelFacts.shortName(facts.path) }
}

extension ModelFacts {
    /// The last path component (without a trailing slash).
    static func shortName(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed.split(separator: "/").last.map(String.init) ?? path
    }
}

/// One converted tensor's quality, with what the report derives from its name.
public struct TensorRow: Sendable {
    public var quality: TensorQuality
    /// Stored bits per weight (codes, scales and minimums together), when known.
    public var bitsPerWeight: Double?

    public init(quality: TensorQuality, bitsPerWeight: Double?) {
        self.quality = quality
        self.bitsPerWeight = bitsPerWeight
    }

    /// The encoder layer the tensor belongs to (`encoder.layer.3.…`, `blk.3.…`), nil for embeddings and heads.
    public var layer: Int? { TensorKind.of(quality.name).layer }
    /// What the tensor is, the same for every layer and naming convention: `attn_q`, `ffn_down`, `token_embd`, ….
    public var kind: String { TensorKind.of(quality.name).kind }
}

/// A head output compared between reference and candidate (pooler output, logits, and, as the verifier learns
/// them, label agreement of a fine-tuned classifier). `metrics` are shown in order as label and value.
///
/// This is the slot for the verifier's head comparison: `results(of:)` turns what a `ParityReport` carries into
/// rows; a new head measure (label agreement) becomes one more `Metric` there, and the page shows it unchanged.
public struct HeadResult: Sendable {
    public struct Metric: Sendable {
        /// The column heading: `max |error|`, `label agreement`.
        public var label: String
        /// The exact value (the cell's `data-value`).
        public var value: Double
        /// The value as shown: `1.2e-3`, `98/100`.
        public var text: String

        public init(label: String, value: Double, text: String) {
            self.label = label
            self.value = value
            self.text = text
        }
    }

    public var name: String
    public var metrics: [Metric]
    /// The head's verdict against the tolerance; nil for a measure without one.
    public var passed: Bool?

    public init(name: String, metrics: [Metric], passed: Bool?) {
        self.name = name
        self.metrics = metrics
        self.passed = passed
    }

    /// The head outputs a parity report compared (`pooler_output`, `logits`).
    public static func results(of parity: ParityReport) -> [HeadResult] {
        parity.heads.map { head in
            HeadResult(name: head.name, metrics: [
                Metric(label: "max |error|", value: head.maxAbsError, text: ReportFormat.error(head.maxAbsError)),
                Metric(label: "mean |error|", value: head.meanAbsError, text: ReportFormat.error(head.meanAbsError)),
                Metric(label: "min cosine", value: head.cosineSimilarity, text: ReportFormat.cosine(head.cosineSimilarity)),
            ], passed: head.passed)
        }
    }
}

/// A tensor's layer and kind from its name, under Hugging Face (`encoder.layer.3.attention.self.query.weight`)
/// or llama.cpp GGUF (`blk.3.attn_q.weight`) naming. Unknown names keep their own text as the kind.
enum TensorKind {
    /// Hugging Face module paths (after `encoder.layer.N.`) and the short names GGUF gives them
    /// (llama.cpp's `LLM_TENSOR_*` names for BERT, gguf-py's `tensor_mapping.py`).
    static let short: [(String, String)] = [
        ("attention.self.query", "attn_q"), ("attention.self.key", "attn_k"), ("attention.self.value", "attn_v"),
        ("attention.output.dense", "attn_output"), ("attention.output.LayerNorm", "attn_output_norm"),
        ("intermediate.dense", "ffn_up"), ("output.dense", "ffn_down"), ("output.LayerNorm", "layer_output_norm"),
        ("embeddings.word_embeddings", "token_embd"), ("embeddings.position_embeddings", "position_embd"),
        ("embeddings.token_type_embeddings", "token_types"), ("embeddings.LayerNorm", "token_embd_norm"),
    ]

    static func of(_ name: String) -> (layer: Int?, kind: String) {
        var rest = Substring(name)
        let bias = rest.hasSuffix(".bias")
        rest = Substring(TensorNames.splitModelPrefix(String(rest)).rest)
        for suffix in [".weight", ".bias"] where rest.hasSuffix(suffix) { rest = rest.dropLast(suffix.count) }
        var layer: Int?
        for prefix in ["encoder.layer.", "blk."] where rest.hasPrefix(prefix) {
            let digits = rest.dropFirst(prefix.count).prefix { $0.isNumber }
            if let n = Int(digits), rest.dropFirst(prefix.count + digits.count).first == "." {
                layer = n
                rest = rest.dropFirst(prefix.count + digits.count + 1)
            }
        }
        let text = String(rest)
        return (layer, (short.first { $0.0 == text }?.1 ?? text) + (bias ? " bias" : ""))
    }
}
