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
    public static func inputs(from path: String?, texts: [String] = [], for models: [Model]) throws -> EncoderInputs {
        if !texts.isEmpty {
            guard path == nil else { throw ModelError("use either --inputs or --text, not both") }
            guard let model = models.first(where: { $0.auxiliaryFiles.contains { $0.name == "vocab.txt" } }),
                  let vocab = model.auxiliaryFiles.first(where: { $0.name == "vocab.txt" }) else {
                throw ModelError("--text needs a model folder with vocab.txt")
            }
            let tokenizer = try vocab.contents.map { WordPieceTokenizer(tokens: WordPieceTokenizer.lines(String(decoding: $0, as: UTF8.self)),
                                                                        lowercase: lowercases(model)) }
                ?? wrap { try WordPieceTokenizer(vocabularyFile: vocab.sourcePath, lowercase: lowercases(model)) }
            return try wrap { try tokenizer.batch(texts) }
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
    public static func candidateInputs(texts: [String], reference: Model, candidate: Model) throws -> EncoderInputs? {
        guard !texts.isEmpty,
              let ours = reference.auxiliaryFiles.first(where: { $0.name == "vocab.txt" }),
              let theirs = candidate.auxiliaryFiles.first(where: { $0.name == "vocab.txt" }) else { return nil }
        func text(_ file: AuxiliaryFile) -> [UInt8]? { file.contents ?? (try? MappedFile.contents(of: file.sourcePath)) }
        guard let a = text(ours), let b = text(theirs), a != b else { return nil }
        let referenceTokens = WordPieceTokenizer.lines(String(decoding: a, as: UTF8.self))
        let candidateTokens = WordPieceTokenizer.lines(String(decoding: b, as: UTF8.self))
        let tokenizer = WordPieceTokenizer(tokens: candidateTokens, lowercase: lowercases(candidate))
        let batch = try wrap { try tokenizer.batch(texts) }
        let reference = try inputs(from: nil, texts: texts, for: [reference])
        // The same token strings at the same places (a word the pruned vocabulary lacks becomes [UNK] there).
        func spelled(_ ids: [[Int]], _ tokens: [String]) -> [[String]] { ids.map { $0.map { $0 < tokens.count ? tokens[$0] : "?" } } }
        guard spelled(batch.inputIds, candidateTokens) == spelled(reference.inputIds, referenceTokens) else {
            throw ModelError("the texts split into different tokens under the two vocabularies (a word the pruned one lacks?)")
        }
        return batch
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

    /// Writes a forward pass's outputs as f32 safetensors: `last_hidden_state`, `hidden_states.N`, `pooler_output`.
    public static func write(_ output: ForwardOutput, to path: String, options: OutputOptions) throws {
        func tensor(_ name: String, _ values: [Float], _ shape: [Int]) -> Tensor {
            Tensor(name: name, dtype: .f32, shape: Shape(shape), data: .owned(FloatValues.buffer(values)))
        }
        let shape = [output.batch, output.length, output.width]
        var tensors = [tensor("last_hidden_state", output.lastHiddenState, shape)]
        for (i, state) in output.hiddenStates.enumerated() { tensors.append(tensor("hidden_states.\(i)", state, shape)) }
        if let pooled = output.pooler { tensors.append(tensor("pooler_output", pooled, [output.batch, output.width])) }
        if let logits = output.logits { tensors.append(tensor("logits", logits, [output.batch, output.logitRows, output.logitWidth])) }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: path, options: options)
    }

    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as VerifierError { throw ModelError(error.description) }
    }
}
