import BinaryIO
import ModelIR
import SafetensorsFormat

/// Reads any supported source into the IR: a safetensors file, a sharded index, or a Hugging Face folder.
public enum ModelLoader {
    /// Files carried along from a Hugging Face folder when present.
    public static let auxiliaryFileNames = [
        "vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "added_tokens.json", "spiece.model", "sentencepiece.bpe.model",
        "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
    ]

    /// Reads `path`, recognizing its format from the bytes.
    public static func load(_ path: String) throws -> Model {
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
        default:
            throw ModelError(file: path, "recognized as \(format.rawValue), which this version of ModelPort cannot read yet")
        }
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
        for name in auxiliaryFileNames where fileExists(folder + "/" + name) {
            model.auxiliaryFiles.append(AuxiliaryFile(name: name, sourcePath: folder + "/" + name))
        }
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
