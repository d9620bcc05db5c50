/// What every tokenizer does: split a text into the pieces of its vocabulary, number them, and frame one text or a
/// pair with the model's special tokens, as transformers' tokenizer for the model does.
///
/// A tokenizer is three parts, as in Hugging Face `tokenizers` (https://huggingface.co/docs/tokenizers/pipeline):
/// added tokens split out of the raw text first (``AddedTokens``), the model's own pipeline on the text between
/// them (normalizer, pre-tokenizer and model: `TokenModel`), and the post-processor that adds the special tokens
/// and token types (``SpecialTokensTemplate``).
public protocol Tokenizer: Sendable {
    /// What kind of tokenizer this is, in transformers' words (`BertTokenizer`, `AlbertTokenizer`, …).
    var name: String { get }
    /// The tokens split out of the text before anything else (special tokens and added tokens).
    var addedTokens: AddedTokens { get }
    /// The pieces of a text that holds no added token.
    func pieces(of segment: String, first: Bool) -> [String]
    /// The id of a token, when the vocabulary has it.
    func id(of token: String) -> Int?
    /// The token of an id, when there is one.
    func token(of id: Int) -> String?
    /// The id unknown pieces get, when the vocabulary has one.
    var unknownId: Int? { get }
    /// How one text or a pair is framed.
    var template: SpecialTokensTemplate { get }
    /// The longest sequence the model takes (`model_max_length`), special tokens included; nil when unlimited.
    var maxLength: Int? { get }
    /// The id of the padding token.
    var padId: Int { get }
    /// The number of ids in the vocabulary (added tokens included).
    var vocabularySize: Int { get }
    /// How a pair too long for ``maxLength`` is cut.
    var truncation: Truncation { get }
    /// Whether transformers returns the template's token types (`token_type_ids` in the tokenizer's
    /// `model_input_names`); when not, the model sees type 0 everywhere and so do these encodings.
    var returnsTokenTypeIds: Bool { get }
}

/// One encoded text (or pair): ids, their tokens, token types and the attention mask, as transformers returns them.
public struct Encoding: Sendable, Equatable {
    public var ids: [Int]
    public var tokens: [String]
    public var typeIds: [Int]
    public var attentionMask: [Int]

    public init(ids: [Int], tokens: [String], typeIds: [Int], attentionMask: [Int]? = nil) {
        self.ids = ids
        self.tokens = tokens
        self.typeIds = typeIds
        self.attentionMask = attentionMask ?? ids.map { _ in 1 }
    }
}

extension Tokenizer {
    /// The tokens of `text` without special tokens around it (transformers' `tokenize`).
    public func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var first = true
        for segment in addedTokens.split(text) {
            switch segment {
            case .added(let token):
                tokens.append(token)
            case .text(let part):
                tokens += pieces(of: part, first: first)
            }
            first = false
        }
        return tokens
    }

    /// The ids of tokens; a token outside the vocabulary gets the unknown id (or is an error without one).
    public func ids(of tokens: [String]) throws -> [Int] {
        try tokens.map { token in
            if let id = id(of: token) ?? unknownId { return id }
            throw TokenizerError(.missingToken(token), "the vocabulary has neither '\(token)' nor an unknown token")
        }
    }

    public var truncation: Truncation { .tokenizers }
    public var returnsTokenTypeIds: Bool { true }

    /// `text` (and `pair`) encoded as the model's tokenizer does with `truncation=True`: the pieces, truncated
    /// (longest first) so that the sequence with its special tokens fits ``maxLength`` (and `limit`, when given),
    /// framed by the template.
    public func encode(_ text: String, pair: String? = nil, limit: Int? = nil) throws -> Encoding {
        // transformers' fast tokenizers take an empty pair for no pair (`if text_pair`); the Python ones frame it.
        let pair = truncation == .tokenizers && pair?.isEmpty == true ? nil : pair
        var first = try ids(of: tokenize(text))
        var second = try pair.map { try ids(of: tokenize($0)) }
        if let length = [maxLength, limit].compactMap({ $0 }).min() {
            let specials = template.count(pair: second != nil)
            guard length >= specials else {
                throw TokenizerError(.usage, "a maximum length of \(length) leaves no room beside \(specials) special tokens")
            }
            (first, second) = truncation.cut(first, second, to: length - specials)
        }
        let framed = template.frame(first, second)
        return Encoding(ids: framed.ids, tokens: framed.ids.map { token(of: $0) ?? "" },
                        typeIds: returnsTokenTypeIds ? framed.typeIds : framed.ids.map { _ in 0 })
    }

    /// Several texts (each with its pair, when `pairs` is given) encoded and padded on the right to the longest.
    public func batch(_ texts: [String], pairs: [String]? = nil, limit: Int? = nil) throws -> [Encoding] {
        guard pairs == nil || pairs?.count == texts.count else {
            throw TokenizerError(.usage, "give one pair per text (\(texts.count) texts, \(pairs?.count ?? 0) pairs)")
        }
        var encodings = try texts.indices.map { try encode(texts[$0], pair: pairs?[$0], limit: limit) }
        let length = encodings.map(\.ids.count).max() ?? 0
        let padToken = token(of: padId) ?? ""
        for i in encodings.indices {
            let missing = length - encodings[i].ids.count
            encodings[i].ids += Array(repeating: padId, count: missing)
            encodings[i].tokens += Array(repeating: padToken, count: missing)
            encodings[i].typeIds += Array(repeating: 0, count: missing)
            encodings[i].attentionMask += Array(repeating: 0, count: missing)
        }
        return encodings
    }
}

/// Where the special tokens go around one text or a pair, and the token type of each part (transformers'
/// `build_inputs_with_special_tokens` and `create_token_type_ids_from_sequences`; `tokenizers`' TemplateProcessing).
public struct SpecialTokensTemplate: Sendable, Equatable {
    /// Ids before the first text, between the texts, and after the second.
    public var prefix: [Int]
    public var firstSuffix: [Int]
    public var pairPrefix: [Int]
    public var pairSuffix: [Int]
    /// The token type of the second text and its special tokens (1 for BERT, 0 for RoBERTa).
    public var pairTypeId: Int

    public init(prefix: [Int], firstSuffix: [Int], pairPrefix: [Int] = [], pairSuffix: [Int], pairTypeId: Int) {
        self.prefix = prefix
        self.firstSuffix = firstSuffix
        self.pairPrefix = pairPrefix
        self.pairSuffix = pairSuffix
        self.pairTypeId = pairTypeId
    }

    /// `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]` with the second part's type 1 (BERT, ALBERT).
    public static func bert(cls: Int, sep: Int) -> SpecialTokensTemplate {
        SpecialTokensTemplate(prefix: [cls], firstSuffix: [sep], pairSuffix: [sep], pairTypeId: 1)
    }

    /// `<s> A </s>` and `<s> A </s></s> B </s>`, every type 0 (RoBERTa).
    public static func roberta(bos: Int, eos: Int) -> SpecialTokensTemplate {
        SpecialTokensTemplate(prefix: [bos], firstSuffix: [eos], pairPrefix: [eos], pairSuffix: [eos], pairTypeId: 0)
    }

    /// How many special tokens framing adds.
    public func count(pair: Bool) -> Int {
        prefix.count + firstSuffix.count + (pair ? pairPrefix.count + pairSuffix.count : 0)
    }

    /// The framed ids and their token types.
    public func frame(_ first: [Int], _ second: [Int]?) -> (ids: [Int], typeIds: [Int]) {
        var ids = prefix + first + firstSuffix
        var types = Array(repeating: 0, count: ids.count)
        if let second {
            let part = pairPrefix + second + pairSuffix
            ids += part
            types += Array(repeating: pairTypeId, count: part.count)
        }
        return (ids, types)
    }
}

/// How a text or a pair is cut to a budget of ids: a lone text keeps its first ids; of a pair, ids come off the
/// longer one first (`truncation=True`, transformers' `longest_first`), with two roundings of the last odd id.
public enum Truncation: Sendable {
    /// `tokenizers`' rule (every fast tokenizer): the shorter text keeps all it can and the longer gets the rest;
    /// when both are too long each gets half, the longer one the odd id.
    case tokenizers
    /// transformers' Python tokenizers (`truncate_sequences`): the difference comes off the longer text, then the
    /// rest is split, the first text losing the smaller half when it is the longer one and the second otherwise.
    case python

    func cut(_ first: [Int], _ second: [Int]?, to budget: Int) -> ([Int], [Int]?) {
        guard let second else { return (Array(first.prefix(budget)), nil) }
        guard first.count + second.count > budget else { return (first, second) }
        var n1 = first.count, n2 = second.count
        switch self {
        case .tokenizers:
            let swapped = n1 > n2
            if swapped { swap(&n1, &n2) }
            n2 = n1 > budget ? n1 : max(n1, budget - n1)
            if n1 + n2 > budget {
                n1 = budget / 2
                n2 = n1 + budget % 2
            }
            if swapped { swap(&n1, &n2) }
        case .python:
            let remove = n1 + n2 - budget
            let difference = min(abs(n2 - n1), remove)
            let rest = remove - difference
            if n1 > n2 {
                n1 -= difference + rest / 2
                n2 -= rest - rest / 2
            } else {
                n1 -= rest / 2
                n2 -= difference + rest - rest / 2
            }
        }
        return (Array(first.prefix(max(n1, 0))), Array(second.prefix(max(n2, 0))))
    }
}
