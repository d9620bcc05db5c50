import BinaryIO
import ModelIR
import Transforms

/// PaddlePaddle weights as a ModelPort format: every layout Paddle and PaddleNLP / PaddleHub save, mapped to Hugging
/// Face names (Linear weights transposed), with PaddleNLP's `model_config.json` read as the config.
public struct PaddleSource: ModelReader {
    public init() {}

    public var description: FormatDescription {
        FormatDescription(id: "paddle", name: "PaddlePaddle",
                          reads: "`*.pdparams` (`paddle.save`), PaddleNLP folders, inference programs (`*.pdmodel` / `__model__` / PIR `*.json` with `*.pdiparams` or per-variable files), PaddleHub 1.x modules",
                          writes: "PaddleNLP folder (`model_state.pdparams` + `model_config.json` + `vocab.txt`) or one `*.pdparams`",
                          destinationSuffixes: [".pdparams"])
    }

    /// Names that only Paddle uses; `.pdparams` holds a pickle, which PyTorch's legacy files hold too.
    static let fileSuffixes = [".pdparams", ".pdiparams", ".pdopt", ".pdmodel", "__model__", "__params__"]

    public func match(_ probe: FileProbe) -> FormatMatch? {
        guard let file = probe.file else { return nil }
        let pickle = file.withBytes { $0.count >= 2 && $0[0] == 0x80 && (2...5).contains($0[1]) }
        if pickle, probe.hasSuffix(".pdparams", ".pdopt") { return .signatureAndName }
        if Self.fileSuffixes.contains(where: probe.path.hasSuffix) { return .name }
        if probe.path.hasSuffix(".json"), (try? JSON.parse(contentsOf: probe.path))?["base_code"]?["magic"]?.stringValue == "pir" {
            return .name
        }
        return nil
    }

    public func claim(folder: String, names: [String]) throws -> FolderClaim? {
        if names.contains(where: { $0.hasSuffix(".pdparams") || $0.hasSuffix(".pdiparams") || $0.hasSuffix(".pdmodel") || $0 == "__model__" })
            || isDirectory(folder + "/assets/params") || fileExists(folder + "/model/__model__") {
            return .layout
        }
        let files = names.filter { !isDirectory(folder + "/" + $0) }
        if !files.isEmpty, files.allSatisfy({ LoDTensor.looksLikeRecord(folder + "/" + $0) }) { return .layout }
        return nil
    }

    /// Reads PaddlePaddle weights (Paddle's `paddle.save` / `save_inference_model` formats) and maps their names to Hugging Face ones,
    /// transposing Linear / fc weights:
    /// - `.pdparams` / `.pdopt` state dicts (`paddle.save`, `paddle.static.save`), or a PaddleNLP folder holding one
    ///   with `model_config.json` / `config.json` and `vocab.txt`;
    /// - inference models: a program (`*.pdmodel`, `__model__`, or Paddle 3's PIR `*.json`) with its combined
    ///   params file (`*.pdiparams`, `__params__`, `params`) or one file per variable beside it;
    /// - PaddleHub 1.x module folders (`assets/params/` with `@HUB_<module>@`-prefixed variable files,
    ///   `assets/*config*.json`, `assets/vocab.txt`) and plain folders of per-variable LoDTensor files.
    public func read(_ path: String, options: ReadOptions) throws -> Model {
        var (tensors, notes, kind, folder) = try Self.readTensors(path)
        var model = Model(tensors: tensors, notes: notes, sourceFormat: description.name + " " + kind)
        let map = NameMap.paddle(for: model.tensors.map(\.name))
        model = try map.apply(to: model, strict: options.strict)
        if isDirectory(folder + "/assets") { folder += "/assets" }  // PaddleHub 1.x keeps vocab and config there
        let configName = ["model_config.json", "config.json", "bert_config.json", "ernie_config.json"].first { fileExists(folder + "/" + $0) }
            ?? (try? HuggingFaceFolder.list(folder))?.first { $0.hasPrefix("bert_config") && $0.hasSuffix(".json") }
        if configName == "model_config.json" {
            model.config = try Self.config(folder + "/model_config.json")
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
            model.notes.append(Note(.inferred, "layer_norm_eps not given: 1e-12, as BERT and hfl's models use"))
        }
        model.auxiliaryFiles = HuggingFaceFolder.auxiliaryFiles(in: folder)
        return model
    }

    /// The tensors of any Paddle layout under their Paddle names, what the layout was, and the folder to look for
    /// config and vocabulary in.
    static func readTensors(_ path: String) throws -> (tensors: [Tensor], notes: [Note], kind: String, folder: String) {
        let programNames = ["inference.pdmodel", "model.pdmodel", "__model__", "inference.json", "model.json"]
        if isDirectory(path) {
            let names = try HuggingFaceFolder.list(path)
            if let params = names.first(where: { $0 == "model_state.pdparams" }) ?? names.first(where: { $0.hasSuffix(".pdparams") }) {
                return try readTensors(path + "/" + params)
            }
            if let program = programNames.first(where: names.contains) ?? names.first(where: { $0.hasSuffix(".pdmodel") }) {
                return try readTensors(path + "/" + program)
            }
            if isDirectory(path + "/assets/params") {
                let (tensors, notes) = try LoDTensor.readFolder(path + "/assets/params")
                return (tensors, notes, "PaddleHub module (assets/params)", path)
            }
            if isDirectory(path + "/model"), fileExists(path + "/model/__model__") {
                let (tensors, notes, _, _) = try readTensors(path + "/model/__model__")
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
            var notes: [Note] = []
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
                notes.append(Note(.naming, "named \(renamed) parameters by their structured names from \(splitPath(info).name)"))
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
    static func config(_ path: String) throws -> ModelConfig {
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
}
