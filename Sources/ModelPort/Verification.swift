#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import BinaryIO
import ModelIR
import Quantization
import SafetensorsFormat
import Tokenizers
import Transforms
import Verifier

/// `forward` and `verify`: reference forward passes on models of any format.
public enum Verification {
    /// The inputs: texts tokenized with the first model's own tokenizer (``tokenizer(for:)``), a safetensors file,
    /// or the standard deterministic batch. `pairs[i]`, when given, is the second sentence of `texts[i]`
    /// (`[CLS] text [SEP] pair [SEP]` for BERT, token types 0 then 1, as the model's tokenizer encodes a pair).
    public static func inputs(from path: String?, texts: [String] = [], pairs: [String] = [], for models: [Model]) throws -> EncoderInputs {
        guard pairs.isEmpty || pairs.count == texts.count else {
            throw ModelError(kind: .invalidRequest, "each text needs its second sentence: \(texts.count) texts but \(pairs.count) pairs")
        }
        if !texts.isEmpty {
            guard path == nil else { throw ModelError(kind: .invalidRequest, "inputs come either from a file or from texts, not both") }
            var firstError: (any Error)?
            for model in models {
                do {
                    let tokenizer = try tokenizer(for: model)
                    return try wrap {
                        try EncoderInputs(encodings: tokenizer.batch(texts, pairs: pairs.isEmpty ? nil : pairs, limit: positionLimit(model)))
                    }
                } catch {
                    firstError = firstError ?? error
                }
            }
            throw firstError ?? ModelError(kind: .invalidRequest, "texts need a model with a tokenizer")
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

    /// The model's tokenizer, built from the tokenizer files it carries (``/Tokenizers/TokenizerLoader``) and its architecture.
    public static func tokenizer(for model: Model) throws -> any Tokenizer {
        var files: [String: TokenizerFiles.Source] = [:]
        for file in model.auxiliaryFiles where TokenizerFiles.knownNames.contains(file.name) {
            files[file.name] = file.contents.map { .bytes($0) } ?? .path(file.sourcePath)
        }
        let type: String?
        switch model.config.architecture {
        case .perceiver: type = "perceiver"
        case .cocolm: type = "cocolm"
        case .albert: type = "albert"
        case .roberta: type = "roberta"
        default: type = model.config["model_type"]?.stringValue
        }
        do {
            return try TokenizerLoader.load(TokenizerFiles(files: files), modelType: type)
        } catch let error as TokenizerError {
            throw ModelError(file: error.file, error.reason)
        }
    }

    /// The tokenizer of a model folder (its tokenizer files and config.json's model type; no weights needed), or of
    /// the model a file holds.
    public static func tokenizer(at path: String) throws -> any Tokenizer {
        if !isDirectory(path) {
            // A model file: the tokenizer files it carries (a GGUF's vocabulary), else those beside it.
            let model = try ModelLoader.load(path)
            if model.auxiliaryFiles.contains(where: { TokenizerFiles.knownNames.contains($0.name) }) { return try tokenizer(for: model) }
            var beside = model
            beside.auxiliaryFiles = HuggingFaceFolder.auxiliaryFiles(in: splitPath(path).folder)
            return try tokenizer(for: beside)
        }
        let files = TokenizerFiles.folder(path)
        var type: String?
        if let config = try? files.json("config.json") {
            let model = ModelConfig(members: config.objectValue ?? [])
            type = model.architecture == .unknown ? model["model_type"]?.stringValue : model.architecture.rawValue
        }
        do {
            return try TokenizerLoader.load(files, modelType: type)
        } catch let error as TokenizerError {
            throw ModelError(file: error.file, error.reason)
        }
    }

    /// The longest sequence the model's position table takes (RoBERTa's starts after the padding id).
    static func positionLimit(_ model: Model) -> Int? {
        guard let positions = model.config.maxPositionEmbeddings else { return nil }
        return model.config.architecture == .roberta ? positions - (model.config.padTokenId ?? 1) - 1 : positions
    }

    /// The texts tokenized for the candidate with its own tokenizer, when it numbers tokens differently from the
    /// reference's (a pruned vocabulary); nil when both give the same ids. The token sequences must line up.
    public static func candidateInputs(texts: [String], pairs: [String] = [], reference: Model, candidate: Model) throws -> EncoderInputs? {
        guard !texts.isEmpty, let theirs = try? tokenizer(for: candidate) else { return nil }
        let ours = try tokenizer(for: reference)
        let limit = [positionLimit(reference), positionLimit(candidate)].compactMap { $0 }.min()
        let second = pairs.isEmpty ? nil : pairs
        let expected = try wrap { try ours.batch(texts, pairs: second, limit: limit) }
        let actual = try wrap { try theirs.batch(texts, pairs: second, limit: limit) }
        guard expected.map(\.ids) != actual.map(\.ids) else { return nil }
        // The same token strings at the same places (a word the pruned vocabulary lacks becomes [UNK] there).
        guard expected.map(\.tokens) == actual.map(\.tokens) else {
            throw ModelError("the texts split into different tokens under the two vocabularies (a word the pruned one lacks?)")
        }
        return try wrap { try EncoderInputs(encodings: actual) }
    }

    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as VerifierError {
            throw ModelError(error.description)
        } catch let error as TokenizerError {
            throw ModelError(file: error.file, error.reason)
        }
    }

    /// Runs one model; errors name `source` when given.
    public static func forward(_ model: Model, inputs: EncoderInputs, source: String? = nil) throws -> ForwardOutput {
        do {
            return try Encoder.forward(try model.dequantizingPacked(), inputs: inputs)
        } catch let error as VerifierError {
            throw ModelError(file: source, error.description)
        }
    }

    /// Loads two models of any formats and compares their forward passes on the same inputs: `texts` tokenized with
    /// the reference's own tokenizer, or, without texts, the standard deterministic batch. The report has the gap of
    /// every layer and head output; `passed` says whether it is within `tolerance` (by default the tolerance for the
    /// candidate's types: fp32 1e-5, f16 / bf16 and quantized types looser).
    ///
    /// ```swift
    /// let report = try Verification.verify(reference: "bert-tf1/bert_model.ckpt", candidate: "bert-hf")
    /// for layer in report.layers { print(layer.name, layer.maxAbsError, layer.cosineSimilarity) }
    /// ```
    public static func verify(reference: String, candidate: String, texts: [String] = [], tolerance: Tolerance? = nil,
                              load: LoadOptions = .init()) throws -> ParityReport {
        let expected = try ModelLoader.load(reference, options: load)
        let actual = try ModelLoader.load(candidate, options: load)
        let inputs = try inputs(from: nil, texts: texts, for: [expected, actual])
        let candidateInputs = try candidateInputs(texts: texts, reference: expected, candidate: actual)
        return try verify(reference: expected, candidate: actual, inputs: inputs, candidateInputs: candidateInputs,
                          tolerance: tolerance, names: (reference, candidate))
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
            ?? candidate.expandedFrom
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

}
