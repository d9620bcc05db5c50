/// A token the tokenizer splits out of the raw text before its normalizer and model see it: the special tokens
/// (`[CLS]`, `<mask>`) and any added token (`tokenizers`' AddedToken; transformers' `added_tokens_decoder`).
public struct AddedToken: Sendable, Equatable {
    public var content: String
    /// Swallow the whitespace before it (RoBERTa's and ALBERT's mask token).
    public var lstrip: Bool
    /// Swallow the whitespace after it.
    public var rstrip: Bool
    /// Match only as a whole word.
    public var singleWord: Bool
    /// A special token (skipped when decoding; never split).
    public var special: Bool

    public init(_ content: String, lstrip: Bool = false, rstrip: Bool = false, singleWord: Bool = false, special: Bool = true) {
        self.content = content
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
        self.special = special
    }
}

/// The added tokens of a tokenizer and the split of a text around them: leftmost-longest matches on the raw text,
/// whole-word and whitespace-stripping rules applied as `tokenizers`' AddedVocabulary does
/// (https://huggingface.co/docs/tokenizers/api/added-tokens).
public struct AddedTokens: Sendable {
    /// One part of a split text.
    public enum Segment: Sendable, Equatable {
        case added(String)
        case text(String)
    }

    public private(set) var tokens: [AddedToken]
    private var index: [[UInt8]: Int] = [:]
    private var trie = ScalarTrie()

    public init(_ tokens: [AddedToken] = []) {
        self.tokens = []
        for token in tokens { add(token) }
    }

    /// Adds a token (a second token with the same content replaces the first's flags).
    public mutating func add(_ token: AddedToken) {
        guard !token.content.isEmpty else { return }
        if let existing = index[Array(token.content.utf8)] {
            tokens[existing] = token
            return
        }
        tokens.append(token)
        index[Array(token.content.utf8)] = tokens.count - 1
        trie.insert(token.content.unicodeScalars, value: tokens.count - 1)
    }

    public func contains(_ content: String) -> Bool { index[Array(content.utf8)] != nil }

    /// The text cut into added tokens and the text between them (empty parts left out).
    public func split(_ text: String) -> [Segment] {
        guard !tokens.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        return splitScalars(text)
    }

    private func splitScalars(_ text: String) -> [Segment] {
        let scalars = Array(text.unicodeScalars)
        var segments: [Segment] = []
        var emitted = 0  // scalars before this index are in `segments`
        var position = 0
        func part(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        while position < scalars.count {
            guard let match = trie.longest(in: scalars, from: position) else {
                position += 1
                continue
            }
            let token = tokens[match.value]
            var start = position, stop = match.end
            if token.singleWord {
                let wordBefore = start > 0 && Self.isWordCharacter(scalars[start - 1])
                let wordAfter = stop < scalars.count && Self.isWordCharacter(scalars[stop])
                if wordBefore || wordAfter {
                    position += 1
                    continue
                }
            }
            if token.lstrip {
                while start > emitted, scalars[start - 1].properties.isWhitespace { start -= 1 }
            }
            if token.rstrip {
                while stop < scalars.count, scalars[stop].properties.isWhitespace { stop += 1 }
            }
            if emitted < start { segments.append(.text(part(emitted..<start))) }
            segments.append(.added(token.content))
            emitted = stop
            position = stop
        }
        if emitted < scalars.count { segments.append(.text(part(emitted..<scalars.count))) }
        return segments
    }

    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        s == "_" || s.properties.isAlphabetic || s.properties.numericType != nil
            || s.properties.generalCategory == .nonspacingMark
    }
}
