import ModelIR

/// One per-tensor type rule: a regular expression matched against the output tensor names (GGUF names for BERT:
/// `blk.3.attn_v.weight`) and the type it assigns. The expression is compiled once, when the rule is made.
public struct TypeRule: @unchecked Sendable {
    // `Regex<AnyRegexOutput>` is not Sendable; a compiled regex is immutable, and matching does not mutate it.
    /// The expression as written.
    public let pattern: String
    public let type: GGUFType
    let regex: Regex<AnyRegexOutput>

    /// A rule; an expression that does not compile is an `invalidRequest` error.
    public init(pattern: String, type: GGUFType) throws {
        self.pattern = pattern
        self.type = type
        do { regex = try Regex(pattern) } catch {
            throw ModelError(kind: .invalidRequest, "invalid tensor pattern '\(pattern)': \(error)")
        }
    }

    public func matches(_ name: String) -> Bool { name.firstMatch(of: regex) != nil }
}

/// Per-tensor type choices for quantized outputs, like llama.cpp's quantizer: rules matched against the output
/// tensor names, first match wins, before the main type.
public struct TypePolicy: Sendable {
    public var rules: [TypeRule] = []
    /// llama-quantize's mix for the tensors no rule matches (`GGUFPreset.q4_K_M`), if any.
    public var llamaMix: LlamaFileType?

    public init(rules: [TypeRule] = [], llamaMix: LlamaFileType? = nil) {
        self.rules = rules
        self.llamaMix = llamaMix
    }

    /// The type for `name`, if a rule matches.
    public func type(for name: String) -> DType? { rules.first { $0.matches(name) }?.type.dtype }
}

/// The tensor types a GGUF file can hold that ModelPort writes.
public enum GGUFType: String, CaseIterable, Sendable {
    case f32, f16, bf16
    case q8_0, q4_0, q4_1, q5_0, q5_1
    case q4_K = "q4_k", q5_K = "q5_k", q6_K = "q6_k"

    /// The IR's type.
    public var dtype: DType { DType(rawValue: rawValue)! }

    /// The GGUF type for an IR type, nil when GGUF output cannot hold it.
    public init?(_ dtype: DType) { self.init(rawValue: dtype.rawValue) }

    /// llama.cpp's `llama_ftype` number for a file mostly of this type (`include/llama.h`).
    var fileType: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .q5_0: return 8
        case .q5_1: return 9
        case .q4_K: return 14
        case .q5_K: return 16
        case .q6_K: return 18
        case .bf16: return 32
        }
    }
}

/// The types of a GGUF's tensors: one type for every tensor that llama.cpp quantizes, or a preset's mix.
public enum GGUFTypes: Sendable, Equatable {
    case uniform(GGUFType)
    case preset(GGUFPreset)
}

/// Type mixes for a whole GGUF: llama-quantize's own, and two of ModelPort's for widths that are not multiples of 256.
public enum GGUFPreset: String, CaseIterable, Sendable {
    /// llama-quantize's `Q4_K_M`, tensor by tensor (`LlamaFileType`).
    case q4_K_M = "q4_k_m"
    /// llama-quantize's `Q5_K_M`.
    case q5_K_M = "q5_k_m"
    /// ModelPort's (not a llama.cpp file type): main type Q4_0; attn_v and ffn_down at Q8_0 in the first and last
    /// layer and at Q5_1 elsewhere; the token embedding at Q8_0.
    case mixedQ4 = "mixed-q4"
    /// As `mixedQ4` with main type Q5_0.
    case mixedQ5 = "mixed-q5"

    /// The main type and the rules for a model of `layers` encoder layers.
    public func policy(layers: Int) -> (main: GGUFType, policy: TypePolicy) {
        let last = max(layers - 1, 0)
        switch self {
        case .q4_K_M: return (.q4_K, TypePolicy(llamaMix: .q4_K_M))
        case .q5_K_M: return (.q5_K, TypePolicy(llamaMix: .q5_K_M))
        case .mixedQ4, .mixedQ5:
            // The patterns are constants: they compile.
            let rules = [
                (#"^token_embd\.weight$"#, GGUFType.q8_0),
                (#"^blk\.(0|\#(last))\.(attn_v|ffn_down)\.weight$"#, .q8_0),
                (#"(attn_v|ffn_down)\.weight$"#, .q5_1),
            ].compactMap { try? TypeRule(pattern: $0.0, type: $0.1) }
            return (self == .mixedQ4 ? .q4_0 : .q5_0, TypePolicy(rules: rules))
        }
    }
}

/// llama.cpp file types whose per-tensor choices ModelPort reproduces: what `llama-quantize` (llama.cpp's
/// `llama_tensor_get_type` in `src/llama-quant.cpp`, without an importance matrix) picks for each tensor of a
/// GGUF. For the BERT family that is:
///
/// - the output tensor, or `token_embd` when there is none (tied embeddings, as every BERT): Q6_K, or Q8_0
///   when its rows are not a whole number of the main type's blocks;
/// - `attn_v` (and fused `attn_qkv`, `attn_kv_b`): Q6_K where `use_more_bits(i, n)` holds for the i-th of the
///   n such tensors (the first and last eighth, and every third one between);
/// - `ffn_down`: the same, counted over the model's blocks;
/// - everything else the main type; then a type whose block does not divide the row falls back
///   (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, else F16).
///
/// llama.cpp counts the i-th tensor in its own order: tensors outside blocks first, then block by block
/// (`blk.N.`, by N), names in byte order within each.
public enum LlamaFileType: String, CaseIterable, Sendable {
    case q4_K_M = "q4_k_m"
    case q5_K_M = "q5_k_m"

    /// llama.cpp's `llama_ftype` number (`include/llama.h`).
    public var fileType: UInt32 {
        switch self {
        case .q4_K_M: return 15
        case .q5_K_M: return 17
        }
    }

    /// The main type (llama.cpp's `llama_ftype_get_default_type`).
    public var defaultType: DType {
        switch self {
        case .q4_K_M: return .q4_K
        case .q5_K_M: return .q5_K
        }
    }

    /// One tensor as llama-quantize sees it.
    public struct TensorShape: Sendable {
        public var name: String
        /// Values per row (`ne[0]`, the last dimension).
        public var rowLength: Int
        /// Whether llama-quantize would quantize it at all (2-D or more, a `weight`, not a norm or position table).
        public var quantizable: Bool

        public init(name: String, rowLength: Int, quantizable: Bool) {
            self.name = name
            self.rowLength = rowLength
            self.quantizable = quantizable
        }
    }

    /// The type llama-quantize chooses for each tensor (in the given order), before the row-length fallback; nil for
    /// tensors it leaves as they are and for those `manual` claims (a user's rule: llama.cpp skips its mix there,
    /// and does not count them). `blocks` is the model's block count (`*.block_count`).
    public func types(for tensors: [TensorShape], blocks: Int, manual: (String) throws -> Bool) rethrows -> [DType?] {
        let order = tensors.indices.sorted { a, b in
            let (la, lb) = (Self.layer(tensors[a].name), Self.layer(tensors[b].name))
            if la != lb { return la < lb }
            return Array(tensors[a].name.utf8).lexicographicallyPrecedes(Array(tensors[b].name.utf8))
        }
        let attentionV = tensors.filter { Self.isAttentionV($0.name) }.count
        let tied = !tensors.contains { $0.name == "output.weight" }
        func useMoreBits(_ i: Int, _ n: Int) -> Bool { i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2 }
        var (iAttentionV, iFFNDown) = (0, 0)
        var result = [DType?](repeating: nil, count: tensors.count)
        for index in order {
            let tensor = tensors[index]
            guard tensor.quantizable, try !manual(tensor.name) else { continue }
            let name = tensor.name
            var type = defaultType
            if name == "output.weight" || (tied && (name == "token_embd.weight" || name == "per_layer_token_embd.weight")) {
                type = tensor.rowLength % defaultType.blockSize != 0 ? .q8_0 : .q6_K
            } else if Self.isAttentionV(name) {
                if useMoreBits(iAttentionV, attentionV) { type = .q6_K }
                iAttentionV += 1
            } else if name.contains("ffn_down") {
                if useMoreBits(iFFNDown, blocks) { type = .q6_K }
                iFFNDown += 1
            }
            result[index] = type
        }
        return result
    }

    /// `attn_v`-like tensors (llama.cpp's `category_is_attn_v`), in its order of name checks: a fused
    /// `attn_qkv` or `attn_kv_b` counts as one.
    static func isAttentionV(_ name: String) -> Bool {
        name.contains("attn_qkv.weight") || name.contains("attn_kv_b.weight") || name.contains("attn_v.weight")
    }

    /// The N of a `blk.N.` name as C's `sscanf("blk.%d.")` reads it, else -1.
    static func layer(_ name: String) -> Int {
        guard name.hasPrefix("blk.") else { return -1 }
        var rest = Substring(name.dropFirst(4))
        while rest.first == " " || rest.first == "\t" || rest.first == "\n" { rest = rest.dropFirst() }
        var sign = 1
        if rest.first == "-" || rest.first == "+" {
            if rest.first == "-" { sign = -1 }
            rest = rest.dropFirst()
        }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let value = Int32(digits) else { return -1 }
        return sign * Int(value)
    }
}
