import BinaryIO
import TestSupport
import Testing
@testable import Tokenizers

@Suite struct WordPieceTests {
    static let cases: [(text: String, ids: [Int], tokens: [String])] = {
        guard let json = try? JSON.parse(contentsOf: Samples.path("tokenizer/cases.json")), let cases = json["cases"]?.arrayValue else { return [] }
        return cases.compactMap { c in
            guard let text = c["text"]?.stringValue, let ids = c["ids"]?.arrayValue, let tokens = c["tokens"]?.arrayValue else { return nil }
            return (text, ids.compactMap(\.intValue), tokens.compactMap(\.stringValue))
        }
    }()

    static func vocabularyOnly(_ path: String) throws -> any Tokenizer {
        try TokenizerLoader.load(TokenizerFiles(files: ["vocab.txt": .path(Samples.path(path))]))
    }

    @Test func theFixtureHasCases() { #expect(Self.cases.count >= 15) }

    @Test(arguments: cases)
    func matchesTransformersBertTokenizer(text: String, ids: [Int], tokens: [String]) throws {
        let tokenizer = try Self.vocabularyOnly("tokenizer/vocab.txt")
        #expect(tokenizer.tokenize(text) == tokens)
        #expect(try tokenizer.encode(text).ids == ids)
    }

    @Test func padsABatch() throws {
        let tokenizer = try Self.vocabularyOnly("bert-tiny/vocab.txt")
        let batch = try tokenizer.batch(["the model is fast", "我们"])
        #expect(batch.map(\.ids.count) == [6, 6])
        #expect(batch[1].attentionMask == [1, 1, 1, 1, 0, 0])
    }

    @Test func specialTokensGluedToWordsAreSplitOutFirst() throws {
        let tokenizer = try Self.vocabularyOnly("bert-tiny/vocab.txt")
        #expect(tokenizer.tokenize("x[MASK]y").contains("[MASK]"))
        #expect(tokenizer.tokenize("巴黎是[MASK]国的首都").filter { $0 == "[MASK]" }.count == 1)
        // Lower-case "[mask]" is text, not the special token.
        #expect(!tokenizer.tokenize("[mask]").contains("[MASK]"))
    }

    @Test func aVocabularyWithoutClsIsAMissingTokenError() throws {
        #expect {
            _ = try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "a"])
        } throws: { ($0 as? TokenizerError)?.kind == .missingToken("[CLS]") }
    }
}

@Suite struct WordPieceSettingsTests {
    static func load(config: String, extraVocabulary: String = "") throws -> any Tokenizer {
        let vocab = try Samples.bytes("tokenizers/bert-cased/vocab.txt") + Array(extraVocabulary.utf8)
        return try TokenizerLoader.load(TokenizerFiles(files: ["vocab.txt": .bytes(vocab), "tokenizer_config.json": .bytes(Array(config.utf8))]))
    }

    /// transformers 5.23's BertTokenizer gives `H ##e ##l ##l ##o [ F ##O ##O ] x` for "Hello [FOO] x" with
    /// `never_split: ["[FOO]"]` and "[FOO]" in the vocabulary: the setting is not used any more.
    @Test func neverSplitIsIgnoredAsTransformers5Does() throws {
        let with = try Self.load(config: #"{"do_lower_case": false, "never_split": ["[FOO]"]}"#, extraVocabulary: "[FOO]\n")
        #expect(with.tokenize("Hello [FOO] x") == ["H", "##e", "##l", "##l", "##o", "[", "F", "##O", "##O", "]", "x"])
    }

    @Test func lowerCasingAndAccentsFollowTheConfig() throws {
        let cased = try Self.load(config: #"{"do_lower_case": false}"#)
        let lower = try Self.load(config: #"{"do_lower_case": true}"#)
        let keepAccents = try Self.load(config: #"{"do_lower_case": true, "strip_accents": false}"#)
        #expect(cased.tokenize("É").first == "É")
        #expect(lower.tokenize("É").first == "e")
        #expect(keepAccents.tokenize("É").first == "é" || keepAccents.tokenize("É").first == "[UNK]")
    }

    @Test func chineseCharactersSplitOnlyWhenAsked() throws {
        let split = try Self.load(config: #"{"do_lower_case": false}"#)
        let whole = try Self.load(config: #"{"do_lower_case": false, "tokenize_chinese_chars": false}"#)
        #expect(split.tokenize("巴黎") == ["巴", "黎"])
        #expect(whole.tokenize("巴黎") == ["巴", "##黎"])  // one word, then WordPiece
    }

    @Test func modelMaxLengthTruncatesWithSpecialTokensKept() throws {
        let tokenizer = try Self.load(config: #"{"do_lower_case": false, "model_max_length": 5}"#)
        let encoding = try tokenizer.encode("a b c d e f g")
        #expect(encoding.ids.count == 5)
        #expect(encoding.tokens.first == "[CLS]" && encoding.tokens.last == "[SEP]")
        let pair = try tokenizer.encode("a b c", pair: "d e f")
        #expect(pair.ids.count == 5)
        #expect(pair.tokens == ["[CLS]", "a", "[SEP]", "d", "[SEP]"])
        #expect(pair.typeIds == [0, 0, 0, 1, 1])
    }
}
