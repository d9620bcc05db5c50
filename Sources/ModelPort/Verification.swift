import Foundation
import BinaryIO
import ModelIR
import Quantization
import SafetensorsFormat
import Transforms
import Verifier

/// `forward` and `verify`: reference forward passes on models of any format.
public enum Verification {
    /// The inputs: texts tokenized with the first model's `vocab.txt`, a safetensors file, or the standard
    /// deterministic batch.
    /// `pairs[i]`, when given, is the second sentence of `texts[i]` (`[CLS] text [SEP] pair [SEP]`, token types 0 then 1,
    /// as BertTokenizer encodes a pair).
    public static func inputs(from path: String?, texts: [String] = [], pairs: [String] = [], for models: [Model]) throws -> EncoderInputs {
        guard pairs.isEmpty || pairs.count == texts.count else {
            throw ModelError("--pair gives the second sentence of each --text: \(texts.count) texts but \(pairs.count) pairs")
        }
        if !texts.isEmpty {
            guard path == nil else { throw ModelError("use either --inputs or --text, not both") }
            guard let model = models.first(where: { $0.auxiliaryFiles.contains { $0.name == "vocab.txt" } }),
                  let vocab = model.auxiliaryFiles.first(where: { $0.name == "vocab.txt" }) else {
                throw ModelError("--text needs a model folder with vocab.txt")
            }
            let tokenizer = try vocab.contents.map { WordPieceTokenizer(tokens: WordPieceTokenizer.lines(String(decoding: $0, as: UTF8.self)),
                                                                        lowercase: lowercases(model)) }
                ?? wrap { try WordPieceTokenizer(vocabularyFile: vocab.sourcePath, lowercase: lowercases(model)) }
            return try wrap { try encode(texts, pairs: pairs, with: tokenizer) }
        }
        if let path {
            let (tensors, _) = try SafetensorsReader.read(path: path)
            do { return try EncoderInputs(tensors: tensors) } catch { throw ModelError(file: path, String(describing: error)) }
        }
        let vocab = models.compactMap { $0.config.vocabSize }.min() ?? 100
        let pad = models.first?.config.padTokenId ?? 0
        let types = models.compactMap { $0.config.typeVocabSize }.min() ?? 2
        return try wrap { try EncoderInputs.standard(vocabSize: vocab, padId: pad, typeVocabSize: types) }
    }

    /// The texts tokenized for the candidate with its own vocabulary, when it differs from the reference's (a
    /// pruned vocabulary numbers tokens differently); nil when both share one. The token sequences must line up.
    public static func candidateInputs(texts: [String], pairs: [String] = [], reference: Model, candidate: Model) throws -> EncoderInputs? {
        guard !texts.isEmpty,
              let ours = reference.auxiliaryFiles.first(where: { $0.name == "vocab.txt" }),
              let theirs = candidate.auxiliaryFiles.first(where: { $0.name == "vocab.txt" }) else { return nil }
        func text(_ file: AuxiliaryFile) -> [UInt8]? { file.contents ?? (try? MappedFile.contents(of: file.sourcePath)) }
        guard let a = text(ours), let b = text(theirs), a != b else { return nil }
        let referenceTokens = WordPieceTokenizer.lines(String(decoding: a, as: UTF8.self))
        let candidateTokens = WordPieceTokenizer.lines(String(decoding: b, as: UTF8.self))
        let tokenizer = WordPieceTokenizer(tokens: candidateTokens, lowercase: lowercases(candidate))
        let batch = try wrap { try encode(texts, pairs: pairs, with: tokenizer) }
        let reference = try inputs(from: nil, texts: texts, pairs: pairs, for: [reference])
        // The same token strings at the same places (a word the pruned vocabulary lacks becomes [UNK] there).
        func spelled(_ ids: [[Int]], _ tokens: [String]) -> [[String]] { ids.map { $0.map { $0 < tokens.count ? tokens[$0] : "?" } } }
        guard spelled(batch.inputIds, candidateTokens) == spelled(reference.inputIds, referenceTokens) else {
            throw ModelError("the texts split into different tokens under the two vocabularies (a word the pruned one lacks?)")
        }
        return batch
    }

    /// Texts (and their second sentences) as one padded batch: `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`.
    static func encode(_ texts: [String], pairs: [String], with tokenizer: WordPieceTokenizer) throws -> EncoderInputs {
        guard !pairs.isEmpty else { return try tokenizer.batch(texts) }
        guard let unk = tokenizer.vocabulary[tokenizer.unknown], let sep = tokenizer.vocabulary["[SEP]"] else {
            throw VerifierError("the vocabulary lacks [UNK] or [SEP]")
        }
        var ids: [[Int]] = [], types: [[Int]] = []
        for (text, pair) in zip(texts, pairs) {
            let first = try tokenizer.encode(text)
            let second = tokenizer.tokenize(pair).map { tokenizer.vocabulary[$0] ?? unk } + [sep]
            ids.append(first + second)
            types.append(Array(repeating: 0, count: first.count) + Array(repeating: 1, count: second.count))
        }
        let length = ids.map(\.count).max() ?? 2
        let pad = tokenizer.vocabulary["[PAD]"] ?? 0
        return try EncoderInputs(inputIds: ids.map { $0 + Array(repeating: pad, count: length - $0.count) },
                                 tokenTypeIds: types.map { $0 + Array(repeating: 0, count: length - $0.count) },
                                 attentionMask: ids.map { Array(repeating: 1, count: $0.count) + Array(repeating: 0, count: length - $0.count) })
    }

    /// Whether the model's tokenizer lower-cases (`do_lower_case` in tokenizer_config.json; BERT's default is yes).
    static func lowercases(_ model: Model) -> Bool {
        guard let config = model.auxiliaryFiles.first(where: { $0.name == "tokenizer_config.json" }),
              let value = try? JSON.parse(contentsOf: config.sourcePath)["do_lower_case"]?.boolValue else { return true }
        return value
    }

    /// Runs one model; errors name `source` when given.
    public static func forward(_ model: Model, inputs: EncoderInputs, source: String? = nil) throws -> ForwardOutput {
        do {
            return try Encoder.forward(try model.dequantizingPacked(), inputs: inputs)
        } catch let error as VerifierError {
            throw ModelError(file: source, error.description)
        }
    }

    /// Runs both models on the same inputs and compares them.
    public static func verify(
        reference: Model, candidate: Model, inputs: EncoderInputs, candidateInputs: EncoderInputs? = nil, tolerance: Tolerance?,
        names: (reference: String, candidate: String)? = nil
    ) throws -> ParityReport {
        let expected = try forward(reference, inputs: inputs, source: names?.reference)
        return try verify(expected: expected, candidate: candidate, inputs: inputs, candidateInputs: candidateInputs, tolerance: tolerance,
                          name: names?.candidate)
    }

    /// Compares a candidate with a reference's forward pass already computed (one pass serves several candidates).
    public static func verify(
        expected: ForwardOutput, candidate: Model, inputs: EncoderInputs, candidateInputs: EncoderInputs? = nil, tolerance: Tolerance?,
        name: String? = nil
    ) throws -> ParityReport {
        let actual = try forward(candidate, inputs: candidateInputs ?? inputs, source: name)
        let packed = candidate.config["quantization_config"] != nil || candidate.config["quantization"] != nil
        let quantized = candidate.tensors.first { $0.dtype.isQuantized || (packed && ($0.dtype == .i8 || $0.dtype == .u32)) }?.dtype
        let limits = tolerance ?? Tolerance.default(for: quantized ?? candidate.mainFloatType)
        return try wrap { try Parity.compare(reference: expected, candidate: actual, inputs: inputs, tolerance: limits) }
    }

    /// Writes a forward pass's outputs as f32 safetensors: `last_hidden_state`, `hidden_states.N`, `pooler_output`, and
    /// the head's outputs under transformers' names (`logits`, `start_logits`, `end_logits`, `prediction_logits`,
    /// `seq_relationship_logits`) or sentence-transformers' (`sentence_embedding`).
    public static func write(_ output: ForwardOutput, to path: String, options: OutputOptions) throws {
        func tensor(_ name: String, _ values: [Float], _ shape: [Int]) -> Tensor {
            Tensor(name: name, dtype: .f32, shape: Shape(shape), data: .owned(FloatValues.buffer(values)))
        }
        let shape = [output.batch, output.length, output.width]
        var tensors = [tensor("last_hidden_state", output.lastHiddenState, shape)]
        for (i, state) in output.hiddenStates.enumerated() { tensors.append(tensor("hidden_states.\(i)", state, shape)) }
        if let pooled = output.pooler { tensors.append(tensor("pooler_output", pooled, [output.batch, output.width])) }
        if let logits = output.logits { tensors.append(tensor("logits", logits, [output.batch, output.logitRows, output.logitWidth])) }
        for head in output.heads where !tensors.contains(where: { $0.name == head.name }) { tensors.append(tensor(head.name, head.values, head.shape)) }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: path, options: options)
    }

    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as VerifierError { throw ModelError(error.description) }
    }
}
