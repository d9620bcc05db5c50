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
    public var skip: [(contains: String, kind: DroppedTensor.Kind, reason: String)]
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

    public init(name: String, skip: [(contains: String, kind: DroppedTensor.Kind, reason: String)], knownPrefixes: [String], transposeSuffixes: [String],
                transposeLinearWeights: Bool = false, rules: [NameRule], basePrefix: String?, headPrefixes: [String]) {
        self.name = name
        self.skip = skip
        self.knownPrefixes = knownPrefixes
        self.transposeSuffixes = transposeSuffixes
        self.transposeLinearWeights = transposeLinearWeights
        self.rules = rules
        self.basePrefix = basePrefix
        self.headPrefixes = headPrefixes
    }

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
                result.dropped.append(DroppedTensor(name: tensor.name, kind: rule.kind, reason: rule.reason, byteCount: tensor.info.byteCount ?? 0))
                continue
            }
            guard knownPrefixes.contains(where: { tensor.name.hasPrefix($0) }) else {
                if strict { throw ModelError(location: .tensor(tensor.name), "matches no \(name) naming rule (strict reading)") }
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
            result.notes.append(Note(.naming, "\(unknown.count) tensors match no \(name) rule and keep their names: \(shown)"))
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
