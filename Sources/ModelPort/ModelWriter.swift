import BinaryIO
import ModelIR
import PaddleFormat
import PyTorchFormat
import SafetensorsFormat
import Transforms

/// The kinds of output ModelPort writes.
public enum OutputFormat: String, CaseIterable, Sendable {
    /// A Hugging Face model folder: `config.json`, safetensors weights (or shards + index), tokenizer files.
    case hf
    /// One safetensors file.
    case safetensors
    /// `pytorch_model.bin` (zip format).
    case pytorch
    /// A GGUF file for llama.cpp.
    case gguf
    /// PaddleNLP weights: `model_state.pdparams` (with `model_config.json` and the vocabulary in a folder).
    case paddle

    /// The format a destination's name implies: `.safetensors`, `.gguf`, `.bin`/`.pt`, else a folder.
    public static func implied(by destination: String) -> OutputFormat {
        if destination.hasSuffix(".safetensors") { return .safetensors }
        if destination.hasSuffix(".gguf") { return .gguf }
        if destination.hasSuffix(".pdparams") { return .paddle }
        if destination.hasSuffix(".bin") || destination.hasSuffix(".pt") || destination.hasSuffix(".pth") { return .pytorch }
        return .hf
    }
}

/// Writes the IR to the supported outputs, atomically and one tensor at a time.
public enum ModelWriter {
    /// The model's safetensors metadata, with the `format: pt` that transformers requires added first when missing.
    static func safetensorsMetadata(_ model: Model) -> Metadata {
        guard model.metadata["format"] == nil else { return model.metadata }
        var metadata: Metadata = ["format": "pt"]
        metadata.merge(model.metadata)
        return metadata
    }

    /// Writes one safetensors file.
    public static func writeSafetensors(_ model: Model, to path: String, options: OutputOptions) throws {
        try SafetensorsWriter.write(model.tensors, metadata: safetensorsMetadata(model), to: path, options: options)
    }

    /// Writes `pytorch_model.bin` (zip format).
    public static func writePyTorch(_ model: Model, to path: String, options: OutputOptions) throws {
        try PyTorchWriter.write(model.tensors, to: path, options: options)
    }

    /// Writes a folder with `pytorch_model.bin`, `config.json` and the tokenizer files.
    @discardableResult
    public static func writePyTorchFolder(_ model: Model, to folder: String, options: OutputOptions) throws -> [String] {
        try writeFolder(model, to: folder, options: options) { path, inner in
            try PyTorchWriter.write(model.tensors, to: path + "/pytorch_model.bin", options: inner)
            return ["pytorch_model.bin"]
        }
    }

    /// The model under PaddleNLP names, Linear weights transposed (BERT family only).
    public static func paddleModel(_ model: Model) throws -> Model {
        guard [.bert, .structbert].contains(model.config.architecture) else {
            throw ModelError("--to paddle writes PaddleNLP BertModel weights; this model is \(model.config.architecture.rawValue)")
        }
        return try NameMap.toPaddleNLP.apply(to: model)
    }

    /// Writes one `.pdparams` file (PaddleNLP names already applied).
    public static func writePaddle(_ model: Model, to path: String, options: OutputOptions) throws {
        try PaddleParamsWriter.write(model.tensors, to: path, options: options)
    }

    /// Writes a PaddleNLP model folder: `model_state.pdparams`, `model_config.json` (`init_class` BertModel, or the task
    /// class such as BertForSequenceClassification with `num_classes`, and the constructor arguments) and `vocab.txt`.
    @discardableResult
    public static func writePaddleFolder(_ model: Model, to folder: String, options: OutputOptions) throws -> [String] {
        let output = try AtomicDirectory(destination: folder, existing: options.existing)
        var inner = options
        inner.existing = .refuse
        try PaddleParamsWriter.write(model.tensors, to: output.path(for: "model_state.pdparams"), options: inner)
        let keys = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
                    "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
                    "initializer_range", "pad_token_id", "layer_norm_eps"]
        let args = JSON.object(keys.compactMap { key in model.config[key].map { (key, $0) } } + [("init_class", .string("BertModel"))])
        // A task model: PaddleNLP's class of the same name, its encoder's arguments nested, and the label count.
        let task = model.task
        var members: [(key: String, value: JSON)] = [("init_args", .array([args])), ("init_class", .string("Bert" + task.head.classSuffix))]
        if task.head.isClassifier {
            members.append(("num_classes", .integer(task.labels.count)))
            if let labels = model.config["id2label"] { members.append(("id2label", labels)) }
        }
        let config = JSON.object(members).serialized(.pretty) + "\n"
        try write(AuxiliaryFile(name: "model_config.json", contents: Array(config.utf8)), into: output)
        var written = ["model_state.pdparams", "model_config.json"]
        for file in model.auxiliaryFiles where file.name == "vocab.txt" {  // transformers' tokenizer files mean nothing to PaddleNLP
            try write(file, into: output)
            written.append(file.name)
        }
        try output.commit()
        return written
    }

    /// Writes a Hugging Face folder. Returns the names of the files in it.
    @discardableResult
    public static func writeHuggingFaceFolder(
        _ model: Model, to folder: String, maxShardBytes: Int?, options: OutputOptions
    ) throws -> [String] {
        try writeFolder(model, to: folder, options: options) { path, inner in
            try SafetensorsIndex.write(model.tensors, metadata: safetensorsMetadata(model), folder: path,
                                       maxShardBytes: maxShardBytes, options: inner)
        }
    }

    /// A model folder: the weights `writeWeights` puts in the temporary folder, then `config.json` and the
    /// auxiliary files; renamed into place when complete.
    static func writeFolder(
        _ model: Model, to folder: String, options: OutputOptions,
        writeWeights: (_ temporaryFolder: String, _ options: OutputOptions) throws -> [String]
    ) throws -> [String] {
        let output = try AtomicDirectory(destination: folder, existing: options.existing)
        var inner = options
        inner.existing = .refuse
        var written = try writeWeights(output.temporaryPath, inner)
        let configFile = try AtomicFile(destination: output.path(for: "config.json"))
        try configFile.write(Array(model.config.huggingFaceText(weightsDType: model.mainFloatType).utf8))
        try configFile.commit()
        written.append("config.json")
        for file in model.auxiliaryFiles where !written.contains(file.name) {
            try write(file, into: output)
            written.append(file.name)
        }
        try output.commit()
        return written
    }

    /// Puts an auxiliary file (its bytes, or a copy of its source) into an output folder under its name.
    static func write(_ file: AuxiliaryFile, into output: AtomicDirectory) throws {
        guard let contents = file.contents else { return try copyFile(from: file.sourcePath, to: output.path(for: file.name)) }
        let out = try AtomicFile(destination: output.path(for: file.name))
        try out.write(contents)
        try out.commit()
    }

    /// Copies a file (mapped, written in one go); AtomicFile creates the destination's folders.
    static func copyFile(from source: String, to destination: String) throws {
        let input: MappedFile
        do { input = try MappedFile(path: source) } catch { throw ModelError(error, file: source) }
        let output = try AtomicFile(destination: destination)
        try input.withBytes { try output.write($0) }
        try output.commit()
    }
}

/// Parses a size such as `500MB`, `2GiB`, `100kB` or `123456` (bytes), the spellings `--max-shard-size`
/// takes (decimal units as transformers reads them, binary units with `i`).
public func parseByteSize(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: " ")
    let units: [(String, Int)] = [
        ("TIB", 1 << 40), ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10),
        ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1),
    ]
    let upper = trimmed.uppercased()
    for (suffix, factor) in units where upper.hasSuffix(suffix) {
        let number = upper.dropLast(suffix.count).trimmingCharacters(in: " ")
        if let whole = Int(number), whole > 0 {
            let (bytes, overflow) = whole.multipliedReportingOverflow(by: factor)
            return overflow ? nil : bytes
        }
        if let value = Double(number), value > 0, value * Double(factor) < 9e18 { return Int(value * Double(factor)) }
        return nil
    }
    if let bytes = Int(upper), bytes > 0 { return bytes }
    return nil
}
