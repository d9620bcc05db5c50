#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftProtobuf

/// A SentencePiece model file (`spiece.model`): the pieces with their scores and types, the trainer's reserved ids
/// and the normalizer's compiled character map, decoded with the schema in Schemas/sentencepiece_model.proto.
public struct SentencePieceModel: Sendable {
    public enum PieceType: Int, Sendable {
        case normal = 1, unknown, control, userDefined, unused, byte
    }

    public struct Piece: Sendable, Equatable {
        public var text: String
        public var score: Float
        public var type: PieceType
    }

    public var pieces: [Piece]
    public var isUnigram: Bool
    public var unknownId: Int
    public var byteFallback: Bool
    public var charsMap: PrecompiledCharsMap?

    /// Decodes a model file's bytes; every piece must have text, and the counts and sizes stay within `limits`.
    public init(bytes: [UInt8], file: String? = nil, limits: TokenizerLimits = TokenizerLimits()) throws {
        guard bytes.count <= limits.maxFileBytes else {
            throw TokenizerError(.malformed, file: file, "\(bytes.count) bytes is over the \(limits.maxFileBytes)-byte limit for a SentencePiece model")
        }
        let proto: Sentencepiece_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = limits.maxDepth
            proto = try Sentencepiece_ModelProto(serializedBytes: bytes, options: options)
        } catch {
            throw TokenizerError(.malformed, file: file, "not a SentencePiece model (protobuf ModelProto): \(error)")
        }
        guard !proto.pieces.isEmpty else { throw TokenizerError(.malformed, file: file, "the model has no pieces") }
        guard proto.pieces.count <= limits.maxEntries else {
            throw TokenizerError(.malformed, file: file, "\(proto.pieces.count) pieces is over the limit of \(limits.maxEntries)")
        }
        var pieces: [Piece] = []
        pieces.reserveCapacity(proto.pieces.count)
        for (i, piece) in proto.pieces.enumerated() {
            guard !piece.piece.isEmpty else { throw TokenizerError(.malformed, file: file, "piece \(i) has no text") }
            guard piece.piece.utf8.count <= limits.maxTokenBytes else {
                throw TokenizerError(.malformed, file: file, "piece \(i) is \(piece.piece.utf8.count) bytes, over the limit of \(limits.maxTokenBytes)")
            }
            guard piece.score.isFinite else { throw TokenizerError(.malformed, file: file, "piece \(i) has a score that is not finite") }
            pieces.append(Piece(text: piece.piece, score: piece.score, type: PieceType(rawValue: piece.type.rawValue) ?? .normal))
        }
        self.pieces = pieces
        isUnigram = proto.trainerSpec.modelType == .unigram
        byteFallback = proto.trainerSpec.byteFallback
        let unk = Int(proto.trainerSpec.unkID)
        guard pieces.indices.contains(unk) else {
            throw TokenizerError(.malformed, file: file, "unk_id \(unk) is outside the \(pieces.count) pieces")
        }
        unknownId = unk
        let map = [UInt8](proto.normalizerSpec.precompiledCharsmap)
        charsMap = map.isEmpty ? nil : try PrecompiledCharsMap(map, file: file)
    }
}

/// ALBERT's tokenizer as transformers 5's AlbertTokenizer builds it from `spiece.model`: normalizer
/// two backquotes→`"`, `''`→`"`, NFKD and accent stripping (unless `keep_accents`), lower-casing (`do_lower_case`), the
/// model's precompiled character map; pre-tokenizer whitespace split then Metaspace (`▁` put before each word,
/// `add_prefix_space`); model Unigram (Viterbi over the pieces' log probabilities, Kudo 2018, "Subword
/// Regularization", §3.1; an unmatched character becomes `<unk>` scored 10 below the lowest piece, runs of them
/// fused); framed `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]` with the second part's type 1.
public struct UnigramTokenizer: Tokenizer {
    /// The pipeline's switches (`tokenizer_config.json`).
    public struct Options: Sendable {
        public var lowercase = true
        public var keepAccents = false
        public var addPrefixSpace = true
        public var unknownToken = "<unk>"
        public var cls = "[CLS]", sep = "[SEP]", pad = "<pad>", mask = "[MASK]"
        public init() {}
    }

    /// One normalizer of `tokenizers`' Sequence, in order.
    public enum NormalizerStep: Sendable {
        case replace(String, String)
        /// `Replace(Regex(" {2,}"), " ")`.
        case collapseSpaces
        case nfkd, nfd, nfkc, nfc
        /// Removes general category Mark (Mn, Mc, Me).
        case stripAccents
        case lowercase
        case precompiled(PrecompiledCharsMap)
    }

    /// Where Metaspace puts `▁` before a word.
    public enum PrependScheme: Sendable { case always, first, never }

    public let name = "AlbertTokenizer"
    /// AlbertTokenizer's `model_input_names` are `input_ids` and `attention_mask`.
    public var returnsTokenTypeIds: Bool { false }
    public let vocabulary: Vocabulary
    public let tokensById: [String]
    let scores: [Double]
    let pieceTrie: ScalarTrie
    let unknownScore: Double
    public let normalizer: [NormalizerStep]
    public let whitespaceSplit: Bool
    public let prependScheme: PrependScheme
    public let options: Options
    public let addedTokens: AddedTokens
    public var template: SpecialTokensTemplate
    public let maxLength: Int?
    public let padId: Int
    public let unknownId: Int?
    static let metaspace: Unicode.Scalar = "\u{2581}"

    /// ALBERT's pipeline over a `spiece.model`, as transformers 5's AlbertTokenizer builds it.
    public init(model: SentencePieceModel, options: Options = Options(), addedTokens extra: [AddedToken] = [], maxLength: Int? = nil) throws {
        guard model.isUnigram else { throw TokenizerError(.unsupported, "only unigram SentencePiece models are implemented (this one is BPE, WORD or CHAR)") }
        var steps: [NormalizerStep] = [.replace("``", "\""), .replace("''", "\"")]
        if !options.keepAccents { steps += [.nfkd, .stripAccents] }
        if options.lowercase { steps.append(.lowercase) }
        if let map = model.charsMap { steps.append(.precompiled(map)) }
        var added: [AddedToken] = model.pieces.filter { $0.type == .control || $0.type == .userDefined }
            .map { AddedToken($0.text, special: $0.type == .control) }
        added += extra
        try self.init(pieces: model.pieces.map { ($0.text, Double($0.score)) }, unknownId: model.unknownId, normalizer: steps,
                      whitespaceSplit: true, prependScheme: options.addPrefixSpace ? .always : .never, options: options,
                      addedTokens: added, maxLength: maxLength)
    }

    /// Any `tokenizers` Unigram pipeline: the pieces with their log probabilities, the normalizer sequence, the
    /// Metaspace pre-tokenizer (after a whitespace split or not), BERT-style framing until ``template`` is set.
    public init(pieces: [(String, Double)], unknownId modelUnknownId: Int, normalizer: [NormalizerStep], whitespaceSplit: Bool,
                prependScheme: PrependScheme, options: Options = Options(), addedTokens extra: [AddedToken] = [], maxLength: Int? = nil) throws {
        guard !pieces.isEmpty, pieces.indices.contains(modelUnknownId) else {
            throw TokenizerError(.malformed, "the unigram vocabulary is empty or its unk_id \(modelUnknownId) is outside it")
        }
        var vocabulary = Vocabulary()
        var tokens: [String] = []
        var scores: [Double] = []
        for (i, piece) in pieces.enumerated() {
            if vocabulary[piece.0] == nil { vocabulary[piece.0] = i }
            tokens.append(piece.0)
            scores.append(piece.1)
        }
        var added = AddedTokens()
        for special in [options.pad, options.unknownToken, options.cls, options.sep, options.mask] where vocabulary[special] != nil {
            added.add(AddedToken(special))
        }
        for token in extra {
            added.add(token)
            if vocabulary[token.content] == nil {
                vocabulary[token.content] = tokens.count
                tokens.append(token.content)
                scores.append(0)
            }
        }
        guard let cls = vocabulary[options.cls], let sep = vocabulary[options.sep] else {
            throw TokenizerError(.missingToken(options.cls), "the SentencePiece model lacks \(options.cls) or \(options.sep)")
        }
        self.vocabulary = vocabulary
        self.tokensById = tokens
        self.scores = scores
        var trie = ScalarTrie()
        for (i, piece) in pieces.enumerated() { trie.insert(piece.0.unicodeScalars, value: i) }
        self.pieceTrie = trie
        self.unknownScore = (pieces.map(\.1).min() ?? 0) - 10
        self.normalizer = normalizer
        self.whitespaceSplit = whitespaceSplit
        self.prependScheme = prependScheme
        self.options = options
        self.addedTokens = added
        self.template = .bert(cls: cls, sep: sep)
        self.maxLength = maxLength
        self.padId = vocabulary[options.pad] ?? 0
        self.unknownId = vocabulary[options.unknownToken] ?? modelUnknownId
    }

    public var vocabularySize: Int { tokensById.count }
    public func id(of token: String) -> Int? { vocabulary[token] }
    public func token(of id: Int) -> String? { tokensById.indices.contains(id) ? tokensById[id] : nil }

    public func pieces(of segment: String, first: Bool) -> [String] {
        var out: [String] = []
        for word in preTokenized(normalized(segment), first: first) { out += viterbi(word) }
        return out
    }

    /// The normalizer sequence.
    func normalized(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        func string() -> String { String(String.UnicodeScalarView(scalars)) }
        for step in normalizer {
            switch step {
            case .replace(let target, let replacement): scalars = Self.replacing(scalars, target, replacement)
            case .collapseSpaces: scalars = Self.collapsingSpaces(scalars)
            case .nfkd: scalars = Array(string().normalized(.nfkd).unicodeScalars)
            case .nfd: scalars = Array(string().normalized(.nfd).unicodeScalars)
            case .nfkc: scalars = Array(string().normalized(.nfkc).unicodeScalars)
            case .nfc: scalars = Array(string().normalized(.nfc).unicodeScalars)
            case .stripAccents: scalars = scalars.filter { !Self.isMark($0) }
            case .lowercase: scalars = scalars.flatMap { WordPieceTokenizer.lowercased($0) }
            case .precompiled(let map): scalars = Array(map.normalize(string()).unicodeScalars)
            }
        }
        return string()
    }

    /// Metaspace (after WhitespaceSplit when configured): spaces become `▁`, `▁` is put before each word (before
    /// the text's first only, with `first`) unless it starts with one, and words are cut before every `▁`.
    func preTokenized(_ text: String, first: Bool = true) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        if whitespaceSplit {
            var current: [Unicode.Scalar] = []
            for scalar in text.unicodeScalars {
                if scalar.properties.isWhitespace {
                    if !current.isEmpty { words.append(current) }
                    current = []
                } else {
                    current.append(scalar)
                }
            }
            if !current.isEmpty { words.append(current) }
        } else if !text.isEmpty {
            words = [text.unicodeScalars.map { $0 == " " ? Self.metaspace : $0 }]
        }
        let startsAtOffsetZero = first && !(text.unicodeScalars.first?.properties.isWhitespace ?? false)
        var pieces: [[Unicode.Scalar]] = []
        for (index, var word) in words.enumerated() {
            let prepend: Bool
            switch prependScheme {
            case .always: prepend = true
            case .first: prepend = index == 0 && (startsAtOffsetZero || !whitespaceSplit) && first
            case .never: prepend = false
            }
            if prepend, word.first != Self.metaspace { word.insert(Self.metaspace, at: 0) }
            var piece: [Unicode.Scalar] = []
            for scalar in word {
                if scalar == Self.metaspace, !piece.isEmpty {
                    pieces.append(piece)
                    piece = []
                }
                piece.append(scalar)
            }
            if !piece.isEmpty { pieces.append(piece) }
        }
        return pieces
    }

    /// Runs of two or more spaces become one.
    static func collapsingSpaces(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        for scalar in scalars where !(scalar == " " && out.last == " ") { out.append(scalar) }
        return out
    }

    /// The best segmentation of one pre-token.
    func viterbi(_ scalars: [Unicode.Scalar]) -> [String] {
        let n = scalars.count
        guard n > 0 else { return [] }
        var best = [(score: Double, start: Int, id: Int)?](repeating: nil, count: n + 1)
        best[0] = (0, 0, -1)
        let unknown = unknownId ?? 0
        for start in 0..<n {
            guard let here = best[start]?.score else { continue }
            var hasSingle = false
            pieceTrie.prefixes(of: scalars, from: start) { end, id in
                let score = here + scores[id]
                if best[end] == nil || score > best[end]!.score { best[end] = (score, start, id) }
                if end == start + 1 { hasSingle = true }
            }
            if !hasSingle {
                let score = here + unknownScore
                if best[start + 1] == nil || score > best[start + 1]!.score { best[start + 1] = (score, start, unknown) }
            }
        }
        var pieces: [String] = []
        var end = n
        var lastWasUnknown = false
        while end > 0, let node = best[end] {
            let isUnknown = node.id == unknown
            if !(isUnknown && lastWasUnknown) {
                pieces.append(isUnknown ? options.unknownToken : String(String.UnicodeScalarView(scalars[node.start..<end])))
            }
            lastWasUnknown = isUnknown
            end = node.start
        }
        return pieces.reversed()
    }

    /// General category Mark (Mn, Mc, Me): what `tokenizers`' StripAccents removes.
    static func isMark(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// Left-to-right, non-overlapping replacement of a literal.
    static func replacing(_ scalars: [Unicode.Scalar], _ target: String, _ replacement: String) -> [Unicode.Scalar] {
        let pattern = Array(target.unicodeScalars), with = Array(replacement.unicodeScalars)
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        var i = 0
        while i < scalars.count {
            if i + pattern.count <= scalars.count, scalars[i..<(i + pattern.count)].elementsEqual(pattern) {
                out += with
                i += pattern.count
            } else {
                out.append(scalars[i])
                i += 1
            }
        }
        return out
    }
}
