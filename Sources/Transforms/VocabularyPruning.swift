import BinaryIO
import ModelIR

extension Model {
    /// Whether `tensor` is indexed by token id in its first dimension: the word embedding table, the MLM decoder and
    /// its bias (BERT `cls.predictions.*`, ALBERT `predictions.*`), COCO-LM / Perceiver token tables.
    static func isVocabularyIndexed(_ tensor: Tensor, vocabularySize: Int) -> Bool {
        guard tensor.shape.dimensions.first == vocabularySize else { return false }
        let name = tensor.name
        return name.hasSuffix("word_embeddings.weight") || name.hasSuffix("predictions.decoder.weight")
            || name.hasSuffix("predictions.bias") || name.hasSuffix("predictions.decoder.bias")
    }

    /// The model with its vocabulary cut to the token ids in `keep` (ascending, unique), as TextPruner's vocabulary
    /// pruner does: the rows of the word embeddings and of a tied MLM decoder and its bias are gathered lazily,
    /// `vocab.txt` is rewritten in the same order, `vocab_size` and `pad_token_id` follow. `tokenizer.json` (which
    /// embeds the old vocabulary) is dropped so tokenizers rebuild from `vocab.txt`.
    public func pruningVocabulary(keep: [Int], vocabulary: [String]) throws -> Model {
        let size = vocabulary.count
        guard config.vocabSize == nil || config.vocabSize == size else {
            throw ModelError("vocab.txt has \(size) tokens, config.json says vocab_size \(config.vocabSize!)")
        }
        guard !keep.isEmpty, keep == keep.sorted(), Set(keep).count == keep.count, keep.allSatisfy({ (0..<size).contains($0) }) else {
            throw ModelError("token ids to keep must be ascending, unique and below \(size)")
        }
        var result = self
        var gathered = 0
        result.tensors = tensors.map { tensor in
            guard Self.isVocabularyIndexed(tensor, vocabularySize: size), let rowBytes = tensor.info.byteCount.map({ $0 / size }) else { return tensor }
            gathered += 1
            var shape = tensor.shape.dimensions
            shape[0] = keep.count
            let source = tensor
            return Tensor(name: tensor.name, dtype: tensor.dtype, shape: Shape(shape), data: .producer {
                try source.withBytes { bytes in
                    let output = TensorBuffer(count: keep.count * rowBytes)
                    output.withMutableBytes { out in
                        for (row, id) in keep.enumerated() {
                            out.baseAddress!.advanced(by: row * rowBytes)
                                .copyMemory(from: bytes.baseAddress!.advanced(by: id * rowBytes), byteCount: rowBytes)
                        }
                    }
                    return output
                }
            })
        }
        guard gathered > 0 else { throw ModelError("no word embedding table with \(size) rows to prune") }
        result.config.vocabSize = keep.count
        if let pad = config.padTokenId, let index = keep.firstIndex(of: pad) { result.config.padTokenId = index }
        let text = keep.map { vocabulary[$0] }.joined(separator: "\n") + "\n"
        result.auxiliaryFiles = auxiliaryFiles.filter { $0.name != "vocab.txt" && $0.name != "tokenizer.json" }
        result.auxiliaryFiles.append(AuxiliaryFile(name: "vocab.txt", contents: Array(text.utf8)))
        if auxiliaryFiles.contains(where: { $0.name == "tokenizer.json" }) {
            result.notes.append("dropped tokenizer.json (it embeds the old vocabulary); tokenizers rebuild from vocab.txt")
        }
        return result
    }
}
