/// The error of the Tokenizers layer: what kind of failure, the file when there is one, and why, printed as one line
/// (`spiece.model: piece 12 has no text`).
public struct TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kinds of failure, for callers and tests to match on.
    public enum Kind: Sendable, Equatable {
        /// No tokenizer files the factory recognises.
        case noTokenizer
        /// A tokenizer file breaks its format's rules or a limit.
        case malformed
        /// A tokenizer type, model or setting that ModelPort does not implement.
        case unsupported
        /// The vocabulary lacks a token the tokenizer needs.
        case missingToken(String)
        /// The caller asked for something that cannot be done.
        case usage
    }

    public var kind: Kind
    /// The file the problem is in, when known.
    public var file: String?
    public var reason: String

    public init(_ kind: Kind, file: String? = nil, _ reason: String) {
        self.kind = kind
        self.file = file
        self.reason = reason
    }

    public var description: String { file.map { "\($0): \(reason)" } ?? reason }
}

/// Caps on what a tokenizer file may make ModelPort allocate or walk.
public struct TokenizerLimits: Sendable {
    /// The largest tokenizer file read (tokenizer.json of large multilingual models is ~20 MB).
    public var maxFileBytes: Int = 256 << 20
    /// The most vocabulary entries (pieces, merges, added tokens) accepted.
    public var maxEntries: Int = 4_000_000
    /// The longest single token, in bytes.
    public var maxTokenBytes: Int = 4096
    /// JSON nesting depth.
    public var maxDepth: Int = 64

    public init() {}
}
