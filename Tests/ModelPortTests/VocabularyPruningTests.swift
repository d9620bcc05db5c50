import BinaryIO
import Foundation
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing

@Suite struct VocabularyPruningTests {
    @Test func keepsTheTokensACorpusUsesAndComputesTheSame() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let corpus = Samples.path("corpus-tiny.txt")  // "we convert the model weights to a small phone\nfast and exact, it is"
        var options = ConversionOptions()
        options.transforms = [.pruneVocabulary(corpus: corpus)]
        let report = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("pruned"), options: options)
        #expect(report.notes.contains { $0.text.hasPrefix("vocabulary: kept 20 of 84 tokens used by corpus-tiny.txt") })
        let vocabulary = try String(contentsOfFile: folder.file("pruned/vocab.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(Array(vocabulary.prefix(5)) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        #expect(vocabulary.count == 20 && vocabulary.contains("phone") && !vocabulary.contains("board"))
        let config = try ModelConfig(contentsOf: folder.file("pruned/config.json"))
        #expect(config.vocabSize == 20 && config.padTokenId == 0)
        // Each kept row is the original row of that token, bit for bit.
        let original = try String(contentsOfFile: Samples.path("bert-tiny/vocab.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        let (before, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        let (after, _) = try SafetensorsReader.read(path: folder.file("pruned/model.safetensors"))
        let old = try #require(before.first { $0.name == "embeddings.word_embeddings.weight" })
        let new = try #require(after.first { $0.name == "embeddings.word_embeddings.weight" })
        #expect(new.shape == [20, 32])
        let oldBytes = try old.withBytes { Array($0) }, newBytes = try new.withBytes { Array($0) }
        for (row, token) in vocabulary.enumerated() {
            let id = try #require(original.firstIndex(of: token))
            #expect(newBytes[(row * 128)..<((row + 1) * 128)] == oldBytes[(id * 128)..<((id + 1) * 128)], "\(token)")
        }
        // Each side tokenizes the texts with its own vocabulary: the hidden states are identical.
        let reference = try ModelLoader.load(Samples.path("bert-tiny")), pruned = try ModelLoader.load(folder.file("pruned"))
        let texts = ["we convert the model weights", "fast and exact"]
        let inputs = try Verification.inputs(from: nil, texts: texts, for: [reference])
        let candidateInputs = try #require(try Verification.candidateInputs(texts: texts, reference: reference, candidate: pruned))
        #expect(candidateInputs.inputIds != inputs.inputIds)
        let parity = try Verification.verify(reference: reference, candidate: pruned, inputs: inputs, candidateInputs: candidateInputs, tolerance: nil)
        #expect(parity.passed && parity.last.maxAbsError == 0)
        // A word the pruned vocabulary lacks cannot be compared token for token.
        #expect { try Verification.candidateInputs(texts: ["edge board"], reference: reference, candidate: pruned) } throws: {
            "\($0)".contains("split into different tokens")
        }
    }
}

@Suite struct TokenizerJSONVocabularyTests {
    @Test func aFolderWithOnlyTokenizerJSONGetsItsWordPieceVocabulary() throws {
        // transformers 5 saves BERT tokenizers as tokenizer.json alone; vocab.txt is rebuilt from its WordPiece model.
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try makeFolders(folder.file("m"))
        for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: Samples.path("bert-tiny/" + name), toPath: folder.file("m/" + name))
        }
        let model = try ModelLoader.load(folder.file("m"))
        let vocab = try #require(model.auxiliaryFiles.first { $0.name == "vocab.txt" }?.contents)
        #expect(vocab == (try Samples.bytes("bert-tiny/vocab.txt")))
        // So GGUF gets a tokenizer and --text works.
        _ = try Converter.convert(source: folder.file("m"), destination: folder.file("m.gguf"), options: .init())
        #expect(try ModelLoader.load(folder.file("m.gguf")).auxiliaryFiles.contains { $0.name == "vocab.txt" })
        let inputs = try Verification.inputs(from: nil, texts: ["the model is fast"], for: [model])
        #expect(inputs.inputIds.first?.count == 6)
    }
}
