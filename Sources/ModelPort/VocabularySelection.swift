import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelIR
import Tokenizers
import Transforms

/// `--vocab-from CORPUS`: keep only the vocabulary a corpus uses (TextPruner's vocabulary pruning).
public enum VocabularySelection {
    /// The model with its vocabulary cut to the WordPiece tokens of `corpus` (a UTF-8 text file, tokenized line by
    /// line with the model's own `vocab.txt`) plus the special tokens, in their original order.
    public static func prune(_ model: Model, corpus: String) throws -> Model {
        let tokenizer: WordPieceTokenizer
        switch try Verification.tokenizer(for: model) {
        case let wordPiece as WordPieceTokenizer: tokenizer = wordPiece
        case let other: throw ModelError(kind: .unsupported, "vocabulary pruning applies to WordPiece vocabularies (vocab.txt); this model's tokenizer is \(other.name)")
        }
        let corpusData: [UInt8]
        do { corpusData = try MappedFile.contents(of: corpus, maxBytes: 1 << 30) } catch { throw ModelError(error, file: corpus) }
        guard let corpusText = String(validating: corpusData, as: UTF8.self) else { throw ModelError(file: corpus, "the corpus is not UTF-8 text") }
        let tokens = tokenizer.tokensById
        var used = Set(tokenizer.addedTokens.tokens.compactMap { tokenizer.vocabulary[$0.content] })
        var unknownPieces = 0
        for line in corpusText.split(whereSeparator: \.isNewline) {
            for piece in tokenizer.tokenize(String(line)) {
                if let id = tokenizer.vocabulary[piece] { used.insert(id) } else { unknownPieces += 1 }
            }
        }
        var pruned = try model.pruningVocabulary(keep: used.sorted(), vocabulary: tokens)
        let hidden = model.tensors.first { $0.name.hasSuffix("word_embeddings.weight") }?.shape.dimensions.last ?? 0
        pruned.notes.append(Note(.info, "vocabulary: kept \(used.count) of \(tokens.count) tokens used by \(splitPath(corpus).name) "
            + "(\((tokens.count - used.count) * hidden) embedding parameters fewer)"
            + (unknownPieces > 0 ? "; \(unknownPieces) corpus words were already [UNK]" : "")))
        return pruned
    }
}
