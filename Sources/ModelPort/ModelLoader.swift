import BinaryIO
import ModelIR
import SafetensorsFormat
import TensorFlowFormat
import Transforms

/// How sources are read.
public struct LoadOptions: Sendable {
    /// Make a tensor that matches no naming rule an error instead of a note.
    public var strict: Bool
    public init(strict: Bool = false) { self.strict = strict }
}

/// Reads any supported source into the IR: a safetensors file, a sharded index, or a Hugging Face folder.
public enum ModelLoader {
    /// Files carried along from a Hugging Face folder when present.
    public static let auxiliaryFileNames = [
        "vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "added_tokens.json", "spiece.model", "sentencepiece.bpe.model",
        "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
    ]

    /// Reads `path`, recognizing its format from the bytes.
    public static func load(_ path: String, options: LoadOptions = .init()) throws -> Model {
        let format = try SourceFormat.detect(path)
        switch format {
        case .safetensors:
            let (tensors, metadata) = try SafetensorsReader.read(path: path)
            return try withConfig(Model(tensors: tensors, metadata: metadata, sourceFormat: format.rawValue),
                                  from: splitPath(path).folder + "/config.json")
        case .safetensorsIndex:
            let (tensors, metadata) = try SafetensorsIndex.read(indexPath: path)
            return try withConfig(Model(tensors: tensors, metadata: metadata, sourceFormat: format.rawValue),
                                  from: splitPath(path).folder + "/config.json")
        case .huggingFaceFolder:
            return try loadFolder(path)
        case .tensorflowBundle:
            return try loadTensorFlow(path, options: options)
        default:
            throw ModelError(file: path, "recognized as \(format.rawValue), which this version of ModelPort cannot read yet")
        }
    }

    /// Google config files read in place of `config.json`, in the order tried.
    static let googleConfigNames = ["config.json", "bert_config.json", "albert_config.json"]

    /// Reads a TensorFlow checkpoint and maps Google's BERT or ALBERT names to Hugging Face names, dropping
    /// optimizer state; the config comes from `bert_config.json` / `albert_config.json` beside it.
    public static func loadTensorFlow(_ path: String, options: LoadOptions) throws -> Model {
        let contents = try TensorBundle.read(path)
        var model = Model(tensors: contents.tensors, dropped: contents.skipped, notes: contents.notes,
                          sourceFormat: SourceFormat.tensorflowBundle.rawValue)
        let folder = splitPath(contents.prefix).folder
        let isALBERT = model.tensors.contains { $0.name.contains("/transformer/group_") }
            || fileExists(folder + "/albert_config.json")
        let isBERT = model.tensors.contains { $0.name.hasPrefix("bert/") || $0.name.hasPrefix("cls/") }
        if isALBERT || isBERT {
            model = try (isALBERT ? NameMap.googleALBERT : NameMap.googleBERT).apply(to: model, strict: options.strict)
        } else {
            model.notes.append("names follow no known TensorFlow convention and are kept as they are")
        }
        if let configName = googleConfigNames.first(where: { fileExists(folder + "/" + $0) }) {
            model.config = try ModelConfig(contentsOf: folder + "/" + configName)
            if model.config.architecture == .unknown, model.config["model_type"] == nil {
                model.config.architecture = isALBERT ? .albert : .bert
            }
        } else {
            let (config, notes) = ModelConfig.inferred(from: model.tensors.map(\.info))
            model.config = config
            model.notes += notes
        }
        if model.config["architectures"] == nil {
            if model.tensors.contains(where: { $0.name.hasPrefix("cls.") }) {
                model.config["architectures"] = .array([.string("BertForPreTraining")])
            } else if model.tensors.contains(where: { $0.name.hasPrefix("predictions.") || $0.name.hasPrefix("sop_classifier.") }) {
                model.config["architectures"] = .array([.string("AlbertForPreTraining")])
            }
        }
        model.auxiliaryFiles = auxiliaryFiles(in: folder)
        return model
    }

    static func auxiliaryFiles(in folder: String) -> [AuxiliaryFile] {
        auxiliaryFileNames.filter { fileExists(folder + "/" + $0) }.map { AuxiliaryFile(name: $0, sourcePath: folder + "/" + $0) }
    }

    /// Reads a Hugging Face model folder: `config.json`, the weights (one file or shards), and the tokenizer files.
    public static func loadFolder(_ folder: String) throws -> Model {
        let names = try listFolder(folder)
        var model: Model
        if names.contains("model.safetensors.index.json") {
            let (tensors, metadata) = try SafetensorsIndex.read(indexPath: folder + "/model.safetensors.index.json")
            model = Model(tensors: tensors, metadata: metadata)
        } else {
            let candidates = names.contains("model.safetensors") ? ["model.safetensors"] : names.filter { $0.hasSuffix(".safetensors") }
            guard candidates.count == 1 else {
                throw ModelError(file: folder, candidates.isEmpty
                    ? "no safetensors weights in the folder"
                    : "several safetensors files (\(candidates.joined(separator: ", "))) and no model.safetensors.index.json")
            }
            let (tensors, metadata) = try SafetensorsReader.read(path: folder + "/" + candidates[0])
            model = Model(tensors: tensors, metadata: metadata)
        }
        model.sourceFormat = SourceFormat.huggingFaceFolder.rawValue + " (safetensors)"
        model = try withConfig(model, from: folder + "/config.json")
        model.auxiliaryFiles = auxiliaryFiles(in: folder)
        return model
    }

    /// Gives a model its config: `configPath` when that file exists, else what the tensor shapes tell.
    static func withConfig(_ model: Model, from configPath: String) throws -> Model {
        var model = model
        if fileExists(configPath) {
            model.config = try ModelConfig(contentsOf: configPath)
            return model
        }
        let (config, notes) = ModelConfig.inferred(from: model.tensors.map(\.info))
        model.config = config
        model.notes += notes
        return model
    }
}
