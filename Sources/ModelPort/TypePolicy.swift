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

    /// Presets in the spirit of llama.cpp's `Q4_K_M`: most weights at the low bit width; attention value and
    /// FFN down projections at more bits (8 in the first and last layer, 5 elsewhere); the token embedding at 8 bits.
    ///
    /// - `mixed-q4`: main type Q4_0. - `mixed-q5`: main type Q5_0.
    public static func preset(_ name: String, layers: Int) throws -> (main: DType, policy: TypePolicy) {
        let main: DType
        switch name {
        case "mixed-q4": main = .q4_0
        case "mixed-q5": main = .q5_0
        default: throw ModelError("unknown preset '\(name)'; presets: mixed-q4, mixed-q5")
        }
        let last = max(layers - 1, 0)
        return (main, TypePolicy(rules: [
            (#"^token_embd\.weight$"#, .q8_0),
            (#"^blk\.(0|\#(last))\.(attn_v|ffn_down)\.weight$"#, .q8_0),
            (#"(attn_v|ffn_down)\.weight$"#, .q5_1),
        ]))
    }
}
