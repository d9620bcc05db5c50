import Foundation
import BinaryIO

/// BERT's tokenizer, as `transformers.BertTokenizer` runs it: clean the text, put spaces around CJK
/// characters (each becomes its own token), lower-case and strip accents (when configured), split on
/// whitespace and punctuation, then greedy longest-match WordPiece with `##` continuations.
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: [String: Int]
    public let lowercase: Bool
    public let unknown = "[UNK]"
    public let maxWordCharacters = 100
    static let specials: Set<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    /// Reads `vocab.txt` (one token per line, the line number is the id).
    public init(vocabularyFile path: String, lowercase: Bool = true) throws {
        guard let data = try? MappedFile.contents(of: path), let text = String(validating: data, as: UTF8.self) else {
            throw VerifierError("cannot read vocabulary \(path) (a regular UTF-8 file)")
        }
        self.init(tokens: Self.lines(text), lowercase: lowercase)
    }

    /// A vocabulary given as its tokens in id order.
    public init(tokens: [String], lowercase: Bool = true) {
        var vocabulary: [String: Int] = [:]
        for (i, token) in tokens.enumerated() where !token.isEmpty && vocabulary[token] == nil { vocabulary[token] = i }
        self.vocabulary = vocabulary
        self.lowercase = lowercase
    }

    /// The tokens of a `vocab.txt` text, one per line (a final newline ends the last one).
    public static func lines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The special tokens BERT's tokenizer never splits.
    public static var specialTokens: Set<String> { specials }

    /// The WordPiece tokens of `text` (without [CLS]/[SEP]).
    public func tokenize(_ text: String) -> [String] {
        var pieces: [String] = []
        for word in basicTokens(text) {
            if Self.specials.contains(word) {
                pieces.append(word)
            } else {
                pieces += wordPieces(word)
            }
        }
        return pieces
    }

    /// `[CLS] tokens [SEP]` as ids.
    public func encode(_ text: String) throws -> [Int] {
        guard let cls = vocabulary["[CLS]"], let sep = vocabulary["[SEP]"], let unk = vocabulary[unknown] else {
            throw VerifierError("the vocabulary lacks [CLS], [SEP] or [UNK]")
        }
        return [cls] + tokenize(text).map { vocabulary[$0] ?? unk } + [sep]
    }

    /// Several texts as one padded batch.
    public func batch(_ texts: [String]) throws -> EncoderInputs {
        let encoded = try texts.map(encode)
        let length = encoded.map(\.count).max() ?? 2
        let pad = vocabulary["[PAD]"] ?? 0
        return try EncoderInputs(inputIds: encoded.map { $0 + Array(repeating: pad, count: length - $0.count) },
                                 attentionMask: encoded.map { Array(repeating: 1, count: $0.count) + Array(repeating: 0, count: length - $0.count) })
    }

    func basicTokens(_ text: String) -> [String] {
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value == 0 || value == 0xFFFD || isControl(scalar) { continue }
            if isWhitespace(scalar) {
                cleaned.append(" ")
            } else if isCJK(value) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var tokens: [String] = []
        for raw in String(cleaned).split(separator: " ") {
            var word = String(raw)
            if lowercase, !Self.specials.contains(word) {
                word = word.lowercased()
                word = String(String.UnicodeScalarView(word.decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                    $0.properties.generalCategory != .nonspacingMark
                }))
            }
            if Self.specials.contains(word) {
                tokens.append(word)
                continue
            }
            var current = String.UnicodeScalarView()
            for scalar in word.unicodeScalars {
                if isPunctuation(scalar) {
                    if !current.isEmpty { tokens.append(String(current)) }
                    current = String.UnicodeScalarView()
                    tokens.append(String(scalar))
                } else {
                    current.append(scalar)
                }
            }
            if !current.isEmpty { tokens.append(String(current)) }
        }
        return tokens
    }

    func wordPieces(_ word: String) -> [String] {
        let scalars = Array(word.unicodeScalars)
        guard scalars.count <= maxWordCharacters else { return [unknown] }
        var pieces: [String] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: String?
            while start < end {
                var piece = String(String.UnicodeScalarView(scalars[start..<end]))
                if start > 0 { piece = "##" + piece }
                if vocabulary[piece] != nil {
                    found = piece
                    break
                }
                end -= 1
            }
            guard let found else { return [unknown] }
            pieces.append(found)
            start = end
        }
        return pieces
    }

    func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.generalCategory == .spaceSeparator
    }

    func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        let category = s.properties.generalCategory
        return category == .control || category == .format
    }

    func isPunctuation(_ s: Unicode.Scalar) -> Bool {
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

    func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
