import BinaryIO
import TestSupport
import Testing
@testable import Tokenizers

/// One case of `Samples/tokenizers/<kind>.json`, written by transformers' own tokenizer (Samples/generate.py,
/// group `tokenizer_goldens`).
struct GoldenCase: Sendable, CustomTestStringConvertible {
    var kind: String
    var index: Int
    var text: String
    var pair: String?
    var ids: [Int]
    var typeIds: [Int]
    var tokens: [String]
    var testDescription: String { "\(kind) #\(index): \(text.prefix(40).debugDescription)" }
}

enum Goldens {
    static let kinds = ["bert-uncased", "bert-cased", "bert-added", "albert", "roberta", "perceiver"]

    static func cases(_ kind: String) -> [GoldenCase] {
        guard let json = try? JSON.parse(contentsOf: Samples.path("tokenizers/\(kind).json")), let cases = json["cases"]?.arrayValue else { return [] }
        return cases.enumerated().compactMap { index, c in
            guard let text = c["text"]?.stringValue, let ids = c["input_ids"]?.arrayValue, let types = c["token_type_ids"]?.arrayValue,
                  let tokens = c["tokens"]?.arrayValue else { return nil }
            return GoldenCase(kind: kind, index: index, text: text, pair: c["pair"]?.stringValue, ids: ids.compactMap(\.intValue),
                              typeIds: types.compactMap(\.intValue), tokens: tokens.compactMap(\.stringValue))
        }
    }

    static let all: [GoldenCase] = kinds.flatMap(cases)

    static func tokenizer(_ kind: String) throws -> any Tokenizer {
        if let loaded = loaded[kind] { return try loaded.get() }
        return try load(kind)
    }

    static func load(_ kind: String) throws -> any Tokenizer {
        try TokenizerLoader.load(folder: Samples.path("tokenizers/\(kind)"), modelType: kind == "perceiver" ? "perceiver" : nil)
    }

    /// Each folder's tokenizer, built once for all cases.
    static let loaded: [String: Result<any Tokenizer, any Error>] = Dictionary(uniqueKeysWithValues: (kinds + ["albert-json"]).map { kind in
        (kind, Result { try load(kind) })
    })
}

@Suite struct GoldenTests {
    @Test(arguments: Goldens.kinds)
    func everyKindHasAtLeastAHundredCasesWithPairs(kind: String) {
        let cases = Goldens.cases(kind)
        #expect(cases.count >= 100)
        #expect(cases.contains { $0.pair != nil })
    }

    @Test(arguments: Goldens.all)
    func idsEqualTransformers(golden: GoldenCase) throws {
        let tokenizer = try Goldens.tokenizer(golden.kind)
        let encoding = try tokenizer.encode(golden.text, pair: golden.pair)
        #expect(encoding.ids == golden.ids)
        #expect(encoding.typeIds == golden.typeIds)
        #expect(encoding.tokens == golden.tokens)
    }

    /// The ALBERT tokenizer as transformers serializes it (tokenizer.json with a Unigram model, the normalizer
    /// sequence with its base64 charsmap, Metaspace, TemplateProcessing) gives the same ids as from spiece.model.
    @Test(arguments: Goldens.cases("albert"))
    func unigramFromTokenizerJSONEqualsTransformers(golden: GoldenCase) throws {
        let tokenizer = try Goldens.tokenizer("albert-json")
        let encoding = try tokenizer.encode(golden.text, pair: golden.pair)
        #expect(encoding.ids == golden.ids)
        #expect(encoding.tokens == golden.tokens)
    }

    @Test(arguments: [("bert-uncased", "BertTokenizer"), ("bert-cased", "BertTokenizer"), ("bert-added", "BertTokenizer"), ("albert", "AlbertTokenizer"),
                      ("albert-json", "AlbertTokenizer"), ("roberta", "RobertaTokenizer"), ("perceiver", "PerceiverTokenizer")])
    func theFactoryPicksTheKindFromTheFolder(kind: String, name: String) throws {
        #expect(try Goldens.tokenizer(kind).name == name)
    }
}
