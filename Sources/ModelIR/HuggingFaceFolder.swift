import BinaryIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The conventions of a Hugging Face model folder that every format stored in one shares: `config.json` beside
/// the weights, and the tokenizer and sentence-transformers files carried along with them.
public enum HuggingFaceFolder {
    /// Files carried along from a model folder when present.
    public static let auxiliaryFileNames = [
        "vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "added_tokens.json", "spiece.model", "sentencepiece.bpe.model",
        "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
        "configuration.json",
    ]

    /// The auxiliary files present in `folder`, with `vocab.txt` rebuilt from `tokenizer.json` when only that is there.
    public static func auxiliaryFiles(in folder: String) -> [AuxiliaryFile] {
        var files = auxiliaryFileNames.filter { fileExists(folder + "/" + $0) }.map { AuxiliaryFile(name: $0, sourcePath: folder + "/" + $0) }
        if !files.contains(where: { $0.name == "vocab.txt" }), let vocab = wordPieceVocabulary(tokenizerJSON: folder + "/tokenizer.json") {
            files.append(vocab)
        }
        return files
    }

    /// `vocab.txt` rebuilt from a fast tokenizer's `tokenizer.json` with a WordPiece model (transformers 5 saves BERT
    /// tokenizers without vocab.txt): the tokens in id order. Nil when there is none, or the ids are not 0…n−1.
    public static func wordPieceVocabulary(tokenizerJSON path: String) -> AuxiliaryFile? {
        guard fileExists(path), let json = try? JSON.parse(contentsOf: path), json["model"]?["type"]?.stringValue == "WordPiece",
              case .object(let entries)? = json["model"]?["vocab"], !entries.isEmpty else { return nil }
        var tokens = [String?](repeating: nil, count: entries.count)
        for (token, id) in entries {
            guard let id = id.intValue, tokens.indices.contains(id), tokens[id] == nil, AuxiliaryFile.fitsOneLine(token) else { return nil }
            tokens[id] = token
        }
        return AuxiliaryFile(name: "vocab.txt", contents: Array((tokens.map { $0! }.joined(separator: "\n") + "\n").utf8))
    }

    /// Gives a model its config: `configPath` when that file exists, else what the tensor shapes tell.
    public static func withConfig(_ model: Model, from configPath: String) throws -> Model {
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

    /// The names in a folder, sorted, or an error naming it.
    public static func list(_ path: String) throws -> [String] {
        guard let names = folderEntries(path) else {
            throw ModelError(kind: .io, file: path, "cannot list folder: \(String(cString: strerror(errno)))")
        }
        return names
    }

    /// The one weights file among `candidates` (`preferred` when present), nil when there is none.
    public static func single(_ candidates: [String], preferred: String, in folder: String) throws -> String? {
        if candidates.contains(preferred) { return preferred }
        guard candidates.count <= 1 else {
            throw ModelError(kind: .ambiguousInput, file: folder,
                             "several weight files (\(candidates.joined(separator: ", "))) and no index to say how they fit")
        }
        return candidates.first
    }
}
