import ModelIR

/// Per-tensor type choices for quantized outputs, like llama.cpp's quantizer: rules matched against the output
/// tensor names (GGUF names for BERT: `blk.3.attn_v.weight`), first match wins, before the main `--dtype`.
public struct TypePolicy: Sendable {
    /// A regular expression (as text) and the type it assigns.
    public var rules: [(pattern: String, dtype: DType)] = []

    public init(rules: [(pattern: String, dtype: DType)] = []) { self.rules = rules }

    /// The type for `name`, if a rule matches.
    public func type(for name: String) throws -> DType? {
        for rule in rules {
            let regex: Regex<AnyRegexOutput>
            do { regex = try Regex(rule.pattern) } catch { throw ModelError("invalid pattern '\(rule.pattern)': \(error)") }
            if name.firstMatch(of: regex) != nil { return rule.dtype }
        }
        return nil
    }

    /// The preset names `--preset` accepts.
    public static let presetNames = ["q4_k_m", "q5_k_m", "mixed-q4", "mixed-q5"]

    /// Mixed presets in the spirit of llama.cpp's `Q4_K_M`: most weights at the low bit width, more bits where
    /// quantization error hurts most.
    ///
    /// - `q4_k_m` / `q5_k_m`: main type Q4_K / Q5_K; attention value and FFN down projections at Q6_K in the layers
    ///   llama.cpp's `use_more_bits` picks (the first and last eighth of the layers and every third one between).
    /// - `mixed-q4` / `mixed-q5`: main type Q4_0 / Q5_0 (for widths that are not multiples of 256); attn_v and
    ///   ffn_down at Q8_0 in the first and last layer and at Q5_1 elsewhere; the token embedding at Q8_0.
    public static func preset(_ name: String, layers: Int) throws -> (main: DType, policy: TypePolicy) {
        let last = max(layers - 1, 0)
        switch name {
        case "q4_k_m", "q5_k_m":
            let eighth = layers / 8
            let more = (0..<layers).filter { $0 < eighth || $0 >= 7 * layers / 8 || ($0 - eighth) % 3 == 2 }
            let rules: [(pattern: String, dtype: DType)] = more.isEmpty ? [] : [
                (#"^blk\.("# + more.map(String.init).joined(separator: "|") + #")\.(attn_v|ffn_down)\.weight$"#, .q6_K),
            ]
            return (name == "q4_k_m" ? .q4_K : .q5_K, TypePolicy(rules: rules))
        case "mixed-q4", "mixed-q5":
            return (name == "mixed-q4" ? .q4_0 : .q5_0, TypePolicy(rules: [
                (#"^token_embd\.weight$"#, .q8_0),
                (#"^blk\.(0|\#(last))\.(attn_v|ffn_down)\.weight$"#, .q8_0),
                (#"(attn_v|ffn_down)\.weight$"#, .q5_1),
            ]))
        default:
            throw ModelError("unknown preset '\(name)'; presets: \(presetNames.joined(separator: ", "))")
        }
    }
}
