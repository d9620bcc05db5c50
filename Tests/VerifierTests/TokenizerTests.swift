import BinaryIO
import TestSupport
import Testing
@testable import Verifier

@Suite struct TokenizerTests {
    static let cases: [(text: String, ids: [Int], tokens: [String])] = {
        let json = try! JSON.parse(contentsOf: Samples.path("tokenizer/cases.json"))
        return json["cases"]!.arrayValue!.map { c in
            (c["text"]!.stringValue!, c["ids"]!.arrayValue!.map { $0.intValue! }, c["tokens"]!.arrayValue!.map { $0.stringValue! })
        }
    }()

    @Test(arguments: cases)
    func matchesTransformersBertTokenizer(text: String, ids: [Int], tokens: [String]) throws {
        let tokenizer = try WordPieceTokenizer(vocabularyFile: Samples.path("tokenizer/vocab.txt"))
        #expect(tokenizer.tokenize(text) == tokens)
        #expect(try tokenizer.encode(text) == ids)
    }

    @Test func padsABatch() throws {
        let tokenizer = try WordPieceTokenizer(vocabularyFile: Samples.path("bert-tiny/vocab.txt"))
        let batch = try tokenizer.batch(["the model is fast", "我们"])
        #expect(batch.inputIds.map(\.count) == [6, 6])
        #expect(batch.attentionMask[1] == [1, 1, 1, 1, 0, 0])
    }
}
