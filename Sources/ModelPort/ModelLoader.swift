import BinaryIO
import ModelIR
import PaddleFormat
import PyTorchFormat
import SafetensorsFormat
import TensorFlowFormat
import Transforms

/// How sources are read.
public struct LoadOptions: Sendable {
    /// Make a tensor that matches no naming rule an error instead of a note.
    public var strict: Bool
    /// The caps the readers apply to the source (`ReaderLimits.current` when not given).
    public var limits: ReaderLimits
    /// The task and labels to assume where the source does not say (`--task`, `--labels`).
    public var task: TaskOptions
    public init(strict: Bool = false, limits: ReaderLimits = .current, task: TaskOptions = .init()) {
        self.strict = strict
        self.limits = limits
        self.task = task
    }
}

/// Reads any supported source into the IR: a safetensors file, a sharded index, or a Hugging Face folder.
public enum ModelLoader {
    /// Files carried along from a Hugging Face folder when present.
    public static let auxiliaryFileNames = [
        "vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "added_tokens.json", "spiece.model", "sentencepiece.bpe.model",
        "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
        "configuration.json",
    ]

    /// Reads `path`, recognizing its format from the bytes, under `options.limits`, and settles its task (head,
    /// labels; see `Model.applyingTask`).
    public static func load(_ path: String, options: LoadOptions = .init()) throws -> Model {
        try ReaderLimits.$current.withValue(options.limits) { try loadDetected(path, options: options).applyingTask(options.task) }
    }

    static func loadDetected(_ path: String, options: LoadOptions) throws -> Model {
        let format = try SourceFormat.detect(path)
        switch format {
        case .safetensors:
            let (tensors, metadata) = try SafetensorsReader.read(path: path)
            return try withConfig(Model(tensors: tensors, metadata: metadata, sourceFormat: format.rawValue),
                                  from: splitPath(path).folder + "/config.json")
        case .safetensorsIndex:
            if try isPyTorchIndex(path) {
                return try withConfig(try loadPyTorchShards(indexPath: path), from: splitPath(path).folder + "/config.json")
            }
            let (tensors, metadata) = try SafetensorsIndex.read(indexPath: path)
            return try withConfig(Model(tensors: tensors, metadata: metadata, sourceFormat: format.rawValue),
                                  from: splitPath(path).folder + "/config.json")
        case .gguf:
            return try GGUFConversion.load(path)
        case .paddle:
            return try loadPaddle(path, options: options)
        case .pytorchZip, .pytorchLegacy:
            return try withConfig(try loadPyTorch(path, format: format), from: splitPath(path).folder + "/config.json")
        case .huggingFaceFolder:
            return try loadFolder(path)
        case .tensorflowBundle:
            return try loadTensorFlow(path, options: options)
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
                // Google's ALBERT code computes "gelu" with the tanh approximation: Hugging Face calls that gelu_new.
                if isALBERT, model.config.hiddenAct == "gelu", configName == "albert_config.json" {
                    model.config.hiddenAct = "gelu_new"
                    model.notes.append("albert_config.json: hidden_act 'gelu' (Google's tanh form) written as 'gelu_new'")
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
        model.auxiliaryFiles = auxiliaryFiles(in: folder)
        return model
    }

    /// Reads PaddlePaddle weights (Paddle's `paddle.save` / `save_inference_model` formats) and maps their names to Hugging Face ones,
    /// transposing Linear / fc weights:
    /// - `.pdparams` / `.pdopt` state dicts (`paddle.save`, `paddle.static.save`), or a PaddleNLP folder holding one
    ///   with `model_config.json` / `config.json` and `vocab.txt`;
    /// - inference models: a program (`*.pdmodel`, `__model__`, or Paddle 3's PIR `*.json`) with its combined
    ///   params file (`*.pdiparams`, `__params__`, `params`) or one file per variable beside it;
    /// - PaddleHub 1.x module folders (`assets/params/` with `@HUB_<module>@`-prefixed variable files,
    ///   `assets/*config*.json`, `assets/vocab.txt`) and plain folders of per-variable LoDTensor files.
    public static func loadPaddle(_ path: String, options: LoadOptions) throws -> Model {
        var (tensors, notes, kind, folder) = try readPaddleTensors(path)
        var model = Model(tensors: tensors, notes: notes, sourceFormat: "PaddlePaddle " + kind)
        let map = NameMap.paddle(for: model.tensors.map(\.name))
        model = try map.apply(to: model, strict: options.strict)
        if isDirectory(folder + "/assets") { folder += "/assets" }  // PaddleHub 1.x keeps vocab and config there
        let configName = ["model_config.json", "config.json", "bert_config.json", "ernie_config.json"].first { fileExists(folder + "/" + $0) }
            ?? (try? listFolder(folder))?.first { $0.hasPrefix("bert_config") && $0.hasSuffix(".json") }
        if configName == "model_config.json" {
            model.config = try paddleConfig(folder + "/model_config.json")
            // PaddleNLP's BertForQuestionAnswering names its start/end Linear `classifier`.
            if model.config.statedHead == .questionAnswering {
                for i in model.tensors.indices where model.tensors[i].name.hasPrefix("classifier.") {
                    model.tensors[i].name = "qa_outputs." + model.tensors[i].name.dropFirst("classifier.".count)
                }
            }
        } else if let configName {
            model.config = try ModelConfig(contentsOf: folder + "/" + configName)
            if model.config.architecture == .unknown { model.config.architecture = .bert }
        } else {
            let (config, inferred) = ModelConfig.inferred(from: model.tensors.map(\.info))
            model.config = config
            model.notes += inferred
        }
        if model.config.layerNormEps == nil, model.config.architecture == .bert {
            model.config.layerNormEps = 1e-12
            model.notes.append("layer_norm_eps not given: 1e-12, as BERT and hfl's models use")
        }
        model.auxiliaryFiles = auxiliaryFiles(in: folder)
        return model
    }

    /// The tensors of any Paddle layout under their Paddle names, what the layout was, and the folder to look for
    /// config and vocabulary in.
    static func readPaddleTensors(_ path: String) throws -> (tensors: [Tensor], notes: [String], kind: String, folder: String) {
        let programNames = ["inference.pdmodel", "model.pdmodel", "__model__", "inference.json", "model.json"]
        if isDirectory(path) {
            let names = try listFolder(path)
            if let params = names.first(where: { $0 == "model_state.pdparams" }) ?? names.first(where: { $0.hasSuffix(".pdparams") }) {
                return try readPaddleTensors(path + "/" + params)
            }
            if let program = programNames.first(where: names.contains) ?? names.first(where: { $0.hasSuffix(".pdmodel") }) {
                return try readPaddleTensors(path + "/" + program)
            }
            if isDirectory(path + "/assets/params") {
                let (tensors, notes) = try LoDTensor.readFolder(path + "/assets/params")
                return (tensors, notes, "PaddleHub module (assets/params)", path)
            }
            if isDirectory(path + "/model"), fileExists(path + "/model/__model__") {
                let (tensors, notes, _, _) = try readPaddleTensors(path + "/model/__model__")
                return (tensors, notes, "PaddleHub module (model/)", path)
            }
            let files = names.filter { !$0.hasSuffix(".json") && !$0.hasSuffix(".txt") && !$0.hasSuffix(".pb") && !isDirectory(path + "/" + $0) }
            guard !files.isEmpty, files.allSatisfy({ LoDTensor.looksLikeRecord(path + "/" + $0) }) else {
                throw ModelError(file: path, "no Paddle weights in the folder (looked for *.pdparams, a program with *.pdiparams, assets/params/, per-variable files)")
            }
            let (tensors, notes) = try LoDTensor.readFolder(path, skipping: Set(names).subtracting(files))
            return (tensors, notes, "per-variable files", path)
        }
        let (folder, name) = splitPath(path)
        if name.hasSuffix(".pdparams") || name.hasSuffix(".pdopt") {
            let contents = try PaddleParams.read(path: path)
            return (contents.tensors, contents.notes, ".pdparams", folder)
        }
        let stem = name.hasSuffix(".pdmodel") ? String(name.dropLast(8)) : name.hasSuffix(".json") ? String(name.dropLast(5))
            : name.hasSuffix(".pdiparams") ? String(name.dropLast(10)) : nil
        var program = path
        if name.hasSuffix(".pdiparams"), let stem {
            guard let found = [stem + ".pdmodel", stem + ".json"].first(where: { fileExists(folder + "/" + $0) }) else {
                throw ModelError(file: path, "a .pdiparams file holds no names: its program (\(stem).pdmodel or \(stem).json) must be beside it")
            }
            program = folder + "/" + found
        }
        let programName = splitPath(program).name
        let kind = programName.hasSuffix(".json") ? "inference model (PIR program)" : "inference model (protobuf program)"
        let paramsCandidates = (stem.map { [$0 + ".pdiparams"] } ?? []) + ["__params__", "params"]
        if let params = paramsCandidates.first(where: { fileExists(folder + "/" + $0) }) {
            var tensors = try PaddleProgram.readCombined(program: program, params: folder + "/" + params)
            var notes: [String] = []
            // paddle.jit.save exports name parameters linear_3.w_0 …; the .pdiparams.info beside them has the
            // Layer's state-dict keys (PaddleNLP names), which the name map knows.
            let info = folder + "/" + params + ".info"
            if fileExists(info) {
                let structured = try PaddleProgram.structuredNames(path: info)
                var renamed = 0
                tensors = tensors.map { tensor in
                    guard let name = structured[tensor.name] else { return tensor }
                    var tensor = tensor
                    tensor.name = name
                    renamed += 1
                    return tensor
                }
                notes.append("named \(renamed) parameters by their structured names from \(splitPath(info).name)")
            }
            return (tensors, notes, kind, folder)
        }
        // One file per variable beside the program (1.x save_inference_model without params_filename).
        let variables = programName.hasSuffix(".json") ? try PaddleProgram.pirVariables(path: program) : try PaddleProgram.legacyVariables(path: program)
        let tensors = try variables.map { variable -> Tensor in
            let file = folder + "/" + variable.name
            guard fileExists(file) else { throw ModelError(file: program, "names variable '\(variable.name)', but neither a combined params file nor \(variable.name) is beside it") }
            return try LoDTensor.variableFile(file, name: variable.name)
        }
        return (tensors, [], kind + " with per-variable files", folder)
    }

    /// PaddleNLP's `model_config.json`: `{"init_args": [{hidden_size: …, "init_class": "BertModel"}], …}`. hfl's
    /// RoBERTa-wwm models are BERT computations whatever the class says.
    static func paddleConfig(_ path: String) throws -> ModelConfig {
        let json: JSON
        do { json = try JSON.parse(contentsOf: path) } catch { throw ModelError(error, file: path) }
        let args = json["init_args"]?.arrayValue?.first ?? json
        guard case .object(let members) = args else { throw ModelError(file: path, "init_args must hold an object") }
        var config = try ModelConfig(huggingFaceJSON: .object(members.filter { $0.key != "init_class" }), file: path)
        config.architecture = .bert
        // A task model (`init_class` BertForSequenceClassification, …) keeps its class and `num_classes` outside
        // init_args; the class's suffix is the Hugging Face one.
        if let initClass = json["init_class"]?.stringValue, let head = HeadKind(className: initClass) {
            config["architectures"] = .array([.string("Bert" + head.classSuffix)])
            if let classes = json["num_classes"]?.intValue ?? json["num_labels"]?.intValue { config["num_labels"] = .integer(classes) }
            if let labels = json["id2label"] { config["id2label"] = labels }
        }
        if config.layerNormEps == nil { config.layerNormEps = 1e-12 }
        return config
    }

    static func auxiliaryFiles(in folder: String) -> [AuxiliaryFile] {
        var files = auxiliaryFileNames.filter { fileExists(folder + "/" + $0) }.map { AuxiliaryFile(name: $0, sourcePath: folder + "/" + $0) }
        if !files.contains(where: { $0.name == "vocab.txt" }), let vocab = wordPieceVocabulary(tokenizerJSON: folder + "/tokenizer.json") {
            files.append(vocab)
        }
        return files
    }

    /// `vocab.txt` rebuilt from a fast tokenizer's `tokenizer.json` with a WordPiece model (transformers 5 saves BERT
    /// tokenizers without vocab.txt): the tokens in id order. Nil when there is none, or the ids are not 0…n−1.
    static func wordPieceVocabulary(tokenizerJSON path: String) -> AuxiliaryFile? {
        guard fileExists(path), let json = try? JSON.parse(contentsOf: path), json["model"]?["type"]?.stringValue == "WordPiece",
              case .object(let entries)? = json["model"]?["vocab"], !entries.isEmpty else { return nil }
        var tokens = [String?](repeating: nil, count: entries.count)
        for (token, id) in entries {
            guard let id = id.intValue, tokens.indices.contains(id), tokens[id] == nil, AuxiliaryFile.fitsOneLine(token) else { return nil }
            tokens[id] = token
        }
        return AuxiliaryFile(name: "vocab.txt", contents: Array((tokens.map { $0! }.joined(separator: "\n") + "\n").utf8))
    }

    /// Reads a Hugging Face model folder: `config.json`, the weights (safetensors or PyTorch, one file or
    /// shards with an index), and the tokenizer files.
    public static func loadFolder(_ folder: String) throws -> Model {
        let names = try listFolder(folder)
        var model: Model
        if names.contains("model.safetensors.index.json") {
            let (tensors, metadata) = try SafetensorsIndex.read(indexPath: folder + "/model.safetensors.index.json")
            model = Model(tensors: tensors, metadata: metadata, sourceFormat: "Hugging Face folder (sharded safetensors)")
        } else if let single = try single(names.filter { $0.hasSuffix(".safetensors") }, preferred: "model.safetensors", in: folder) {
            let (tensors, metadata) = try SafetensorsReader.read(path: folder + "/" + single)
            model = Model(tensors: tensors, metadata: metadata, sourceFormat: "Hugging Face folder (safetensors)")
        } else if names.contains("pytorch_model.bin.index.json") {
            model = try loadPyTorchShards(indexPath: folder + "/pytorch_model.bin.index.json")
            model.sourceFormat = "Hugging Face folder (sharded PyTorch)"
        } else if let single = try single(names.filter { $0.hasSuffix(".bin") }, preferred: "pytorch_model.bin", in: folder) {
            model = try loadPyTorch(folder + "/" + single, format: try SourceFormat.detect(folder + "/" + single))
            model.sourceFormat = "Hugging Face folder (\(model.sourceFormat))"
        } else {
            throw ModelError(file: folder, "no weights in the folder (looked for *.safetensors, pytorch_model*.bin and their index files)")
        }
        model = try withConfig(model, from: folder + "/config.json")
        model.auxiliaryFiles = auxiliaryFiles(in: folder)
        if let (pipeline, files) = try SentenceTransformersFolder.read(folder) {
            model.pipeline = pipeline
            model.auxiliaryFiles += files.filter { file in !model.auxiliaryFiles.contains { $0.name == file.name } }
        }
        // ModelScope folders state the task in configuration.json; it decides when config.json names no head.
        if model.config.statedHead == nil || model.config.statedHead == .encoder,
           let task = try? JSON.parse(contentsOf: folder + "/configuration.json")["task"]?.stringValue,
           let head = HeadKind(modelScopeTask: task), head != .sentenceEmbedding {
            model.config.setTask(head == .reranker ? .sequenceClassification : head, labels: nil)
            model.notes.append("task from ModelScope configuration.json: \(task)")
        }
        return model
    }

    /// The one weights file among `candidates` (`preferred` when present), nil when there is none.
    static func single(_ candidates: [String], preferred: String, in folder: String) throws -> String? {
        if candidates.contains(preferred) { return preferred }
        guard candidates.count <= 1 else {
            throw ModelError(file: folder, "several weight files (\(candidates.joined(separator: ", "))) and no index to say how they fit")
        }
        return candidates.first
    }

    /// Reads one `torch.save` file.
    static func loadPyTorch(_ path: String, format: SourceFormat) throws -> Model {
        let contents = try PyTorchCheckpoint.read(path: path)
        return Model(tensors: contents.tensors, notes: contents.notes, sourceFormat: format.rawValue)
    }

    /// Whether an index's shards are PyTorch files (`pytorch_model.bin.index.json`).
    static func isPyTorchIndex(_ path: String) throws -> Bool {
        let index = try JSON.parse(contentsOf: path)
        return index["weight_map"]?.objectValue?.first?.value.stringValue?.hasSuffix(".bin") == true
    }

    /// Reads `pytorch_model-0000i-of-0000n.bin` shards named by an index, checking that each tensor is where
    /// the index says and in no other shard.
    static func loadPyTorchShards(indexPath: String) throws -> Model {
        let index = try ShardIndex(contentsOf: indexPath)
        var model = Model(tensors: [], sourceFormat: "sharded PyTorch (index.json)")
        var owner: [String: String] = [:]
        for shard in index.shards {
            let contents = try PyTorchCheckpoint.read(path: splitPath(indexPath).folder + "/" + shard)
            for tensor in contents.tensors {
                if let other = owner[tensor.name] {
                    throw ModelError(file: shard, location: .tensor(tensor.name), "also stored in \(other)")
                }
                owner[tensor.name] = shard
                model.tensors.append(tensor)
            }
            model.notes += contents.notes
        }
        try index.checkListed(against: owner, indexPath: indexPath)
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
