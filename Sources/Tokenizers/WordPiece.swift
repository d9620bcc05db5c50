/// BERT's tokenizer as transformers' BertTokenizer runs it (through `tokenizers`: BertNormalizer, BertPreTokenizer,
/// WordPiece; https://huggingface.co/docs/tokenizers/api/normalizers): clean the text, put spaces around CJK
/// ideographs, strip accents and lower-case (as configured), split on whitespace and punctuation, then greedy
/// longest-match WordPiece with `##` continuations; a word longer than 100 characters or with no match is `[UNK]`.
public struct WordPieceTokenizer: Tokenizer {
    /// The normalizer's settings (`tokenizer_config.json` / tokenizer.json's BertNormalizer).
    public struct Options: Sendable, Equatable {
        public var lowercase = true
        /// nil: strip accents exactly when lower-casing (BERT's rule).
        public var stripAccents: Bool? = nil
        public var tokenizeChineseCharacters = true
        public var cleanText = true
        public var continuingSubwordPrefix = "##"
        public var maxInputCharactersPerWord = 100
        public var unknownToken = "[UNK]"
        public init() {}
    }

    public let name = "BertTokenizer"
    public let vocabulary: Vocabulary
    /// The vocabulary as tries: every token for a word's start, the `##` tokens (prefix removed) for the rest.
    let starts: ScalarTrie
    let continuations: ScalarTrie
    public let tokensById: [String]
    public let options: Options
    public let addedTokens: AddedTokens
    public var template: SpecialTokensTemplate
    public let maxLength: Int?
    public let padId: Int
    public let unknownId: Int?

    /// The special tokens of BERT's vocabulary.
    public static let specialTokens: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    /// A vocabulary given as its tokens in id order (`vocab.txt`), with BERT's special tokens and framing.
    public init(tokens: [String], options: Options = Options(), addedTokens extra: [AddedToken] = [], maxLength: Int? = nil,
                specials: (cls: String, sep: String, pad: String) = ("[CLS]", "[SEP]", "[PAD]")) throws {
        var vocabulary = Vocabulary(tokens.enumerated().map { ($1, $0) })
        var tokensById = tokens
        var added = AddedTokens()
        for special in Self.specialTokens where vocabulary[special] != nil { added.add(AddedToken(special)) }
        for token in extra {
            added.add(token)
            if vocabulary[token.content] == nil {
                vocabulary[token.content] = tokensById.count
                tokensById.append(token.content)
            }
        }
        guard let cls = vocabulary[specials.cls], let sep = vocabulary[specials.sep] else {
            throw TokenizerError(.missingToken(specials.cls), "the WordPiece vocabulary lacks \(specials.cls) or \(specials.sep)")
        }
        self.vocabulary = vocabulary
        let prefix = Array(options.continuingSubwordPrefix.unicodeScalars)
        var starts = ScalarTrie(), continuations = ScalarTrie()
        for (id, token) in tokens.enumerated() where vocabulary[token] == id {
            let scalars = Array(token.unicodeScalars)
            starts.insert(scalars, value: id)
            if !prefix.isEmpty, scalars.count > prefix.count, scalars.starts(with: prefix) {
                continuations.insert(scalars.dropFirst(prefix.count), value: id)
            }
        }
        self.starts = starts
        self.continuations = continuations
        self.tokensById = tokensById
        self.options = options
        self.addedTokens = added
        self.template = .bert(cls: cls, sep: sep)
        self.maxLength = maxLength
        self.padId = vocabulary[specials.pad] ?? 0
        self.unknownId = vocabulary[options.unknownToken]
    }

    /// The tokens of a `vocab.txt` text, one per line (a final newline ends the last one; `\r\n` accepted).
    public static func lines(_ text: String) -> [String] {
        var lines = text.textLines()
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    public var vocabularySize: Int { tokensById.count }
    public func id(of token: String) -> Int? { vocabulary[token] }
    public func token(of id: Int) -> String? { tokensById.indices.contains(id) ? tokensById[id] : nil }

    public func pieces(of segment: String, first: Bool) -> [String] {
        var pieces: [String] = []
        for word in words(normalized(segment)) {
            pieces += wordPieces(word)
        }
        return pieces
    }

    /// BertNormalizer: clean, space CJK, strip accents, lower-case (in `tokenizers`' order).
    func normalized(_ text: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if options.cleanText {
                if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
                if Self.isWhitespace(scalar) {
                    out.append(" ")
                    continue
                }
            }
            if options.tokenizeChineseCharacters, Self.isCJK(scalar.value) {
                out += [" ", scalar, " "]
            } else {
                out.append(scalar)
            }
        }
        if options.stripAccents ?? options.lowercase {
            let decomposed = String(String.UnicodeScalarView(out)).normalized(.nfd).unicodeScalars
            out = decomposed.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if options.lowercase {
            out = out.flatMap { Self.lowercased($0) }
        }
        return out
    }

    /// BertPreTokenizer: split on whitespace (dropped) and punctuation (kept, one character each).
    func words(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in scalars {
            if scalar.properties.isWhitespace {
                if !current.isEmpty { words.append(current) }
                current = []
            } else if Self.isPunctuation(scalar) {
                if !current.isEmpty { words.append(current) }
                current = []
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// The most characters a word may have whatever the file says: the greedy match costs the square of a word's
    /// length.
    static let longestWordLimit = 1000

    /// Greedy longest-match-first WordPiece: at each position the longest vocabulary entry that starts there
    /// (a `##` entry after the first piece), found in one walk down a trie.
    func wordPieces(_ scalars: [Unicode.Scalar]) -> [String] {
        guard scalars.count <= min(options.maxInputCharactersPerWord, Self.longestWordLimit) else { return [options.unknownToken] }
        var pieces: [String] = []
        var start = 0
        while start < scalars.count {
            guard let match = (start == 0 ? starts : continuations).longest(in: scalars, from: start) else {
                return [options.unknownToken]
            }
            pieces.append(tokensById[match.value])
            start = match.end
        }
        return pieces
    }

    /// Full lower-case mapping of one scalar (no context rules, as `tokenizers`' per-character lowercase).
    static func lowercased(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        if scalar.isASCII {
            return [(0x41...0x5A).contains(scalar.value) ? Unicode.Scalar(scalar.value + 32)! : scalar]
        }
        return Array(scalar.properties.lowercaseMapping.unicodeScalars)
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// Categories C* (control, format, unassigned, private use, surrogate), except tab and newlines.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT spaces out.
    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
