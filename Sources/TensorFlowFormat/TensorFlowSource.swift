import BinaryIO
import ModelIR
import Transforms

/// TensorFlow checkpoints (TF1 Saver and TF2 object-based bundles) as a ModelPort format: Google's BERT and
/// ALBERT names mapped to Hugging Face names, optimizer state dropped, and the config from `bert_config.json` /
/// `albert_config.json` beside the checkpoint.
public struct TensorFlowSource: ModelReader {
    public init() {}

    public var description: FormatDescription {
        FormatDescription(id: "tensorflow", name: "TensorFlow checkpoint",
                          reads: "`model.ckpt` prefix, `*.index` + `*.data-*`, or their folder (TF1 and TF2)", writes: nil)
    }

    /// The TensorBundle footer's magic number (TensorFlow's `table_format.cc`, `kTableMagicNumber`), the last
    /// 8 bytes of an `.index` file.
    static let footerMagic: UInt64 = 0xDB47_7524_8B80_FB57

    public func match(_ probe: FileProbe) -> FormatMatch? {
        guard let file = probe.file else { return fileExists(probe.path + ".index") ? .name : nil }
        let footer = file.withBytes { bytes -> Bool in
            guard bytes.count >= 48 else { return false }
            return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self)) == Self.footerMagic
        }
        return footer ? .signature : nil
    }

    public func claim(folder: String, names: [String]) throws -> FolderClaim? {
        names.contains { $0.hasSuffix(".index") } ? .layout : nil
    }

    /// Google config files read in place of `config.json`, in the order tried.
    static let configNames = ["config.json", "bert_config.json", "albert_config.json"]

    public func read(_ path: String, options: ReadOptions) throws -> Model {
        let contents = try TensorBundle.read(path)
        var model = Model(tensors: contents.tensors, dropped: contents.skipped, notes: contents.notes, sourceFormat: description.name)
        let folder = splitPath(contents.prefix).folder
        let isALBERT = model.tensors.contains { $0.name.contains("/transformer/group_") }
            || fileExists(folder + "/albert_config.json")
        let isBERT = model.tensors.contains { $0.name.hasPrefix("bert/") || $0.name.hasPrefix("cls/") }
        if isALBERT || isBERT {
            model = try (isALBERT ? NameMap.googleALBERT : NameMap.googleBERT).apply(to: model, strict: options.strict)
        } else {
            model.notes.append(Note(.naming, "names follow no known TensorFlow convention and are kept as they are"))
        }
        if let configName = Self.configNames.first(where: { fileExists(folder + "/" + $0) }) {
            model.config = try ModelConfig(contentsOf: folder + "/" + configName)
            if model.config.architecture == .unknown, model.config["model_type"] == nil {
                model.config.architecture = isALBERT ? .albert : .bert
                // Google's ALBERT code computes "gelu" with the tanh approximation: Hugging Face calls that gelu_new.
                if isALBERT, model.config.hiddenAct == "gelu", configName == "albert_config.json" {
                    model.config.hiddenAct = "gelu_new"
                    model.notes.append(Note(.inferred, "albert_config.json: hidden_act 'gelu' (Google's tanh form) written as 'gelu_new'"))
                }
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
        model.auxiliaryFiles = HuggingFaceFolder.auxiliaryFiles(in: folder)
        return model
    }
}
