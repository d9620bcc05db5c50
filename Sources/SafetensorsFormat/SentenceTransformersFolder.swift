import BinaryIO
import ModelIR

/// A sentence-transformers model folder: `modules.json` lists the modules in order — the Transformer (the folder's
/// own weights), `Pooling` (`1_Pooling/config.json`), `Dense` (`2_Dense/config.json` + `model.safetensors`) and
/// `Normalize` — as sentence-transformers' `SentenceTransformer.save` writes them
/// (sentence-transformers documentation, "Creating Custom Models" / `modules.json`).
public enum SentenceTransformersFolder {
    /// The pipeline after the encoder and the files to carry along with it (paths relative to the folder); nil when
    /// the folder has no `modules.json`.
    public static func read(_ folder: String) throws -> (pipeline: SentencePipeline, files: [AuxiliaryFile])? {
        let modulesPath = folder + "/modules.json"
        guard fileExists(modulesPath) else { return nil }
        let modules: JSON
        do { modules = try JSON.parse(contentsOf: modulesPath) } catch { throw ModelError(error, file: modulesPath) }
        guard let list = modules.arrayValue else { throw ModelError(file: modulesPath, "must be a JSON array of modules") }
        var pipeline = SentencePipeline(pooling: .cls)
        var pooling: PoolingMode?
        var files = [AuxiliaryFile(name: "modules.json", sourcePath: modulesPath)]
        for (index, module) in list.enumerated() {
            guard let type = module["type"]?.stringValue, let sub = module["path"]?.stringValue else {
                throw ModelError(file: modulesPath, location: .key("\(index)"), "a module needs \"type\" and \"path\"")
            }
            guard !sub.contains(".."), !sub.hasPrefix("/") else {
                throw ModelError(file: modulesPath, location: .key("\(index)"), "module path '\(sub)' leaves the folder")
            }
            let kind = type.split(separator: ".").last.map(String.init) ?? type
            let base = sub.isEmpty ? folder : folder + "/" + sub
            switch kind {
            case "Transformer":
                continue
            case "Pooling":
                let path = base + "/config.json"
                pooling = try poolingMode(path)
                files.append(AuxiliaryFile(name: sub + "/config.json", sourcePath: path))
            case "Dense":
                let configPath = base + "/config.json"
                let config: JSON
                do { config = try JSON.parse(contentsOf: configPath) } catch { throw ModelError(error, file: configPath) }
                let weightsPath = base + "/model.safetensors"
                guard fileExists(weightsPath) else {
                    throw ModelError(file: base, "a Dense module's weights are read from model.safetensors (pytorch_model.bin is not supported here)")
                }
                let (tensors, _) = try SafetensorsReader.read(path: weightsPath)
                guard let weight = tensors.first(where: { $0.name == "linear.weight" }), weight.shape.rank == 2 else {
                    throw ModelError(file: weightsPath, "a Dense module needs a [out, in] 'linear.weight'")
                }
                let bias = tensors.first { $0.name == "linear.bias" }
                if let bias, bias.shape.dimensions != [weight.shape[0]] {
                    throw ModelError(file: weightsPath, location: .tensor("linear.bias"), "shape \(bias.shape) does not match linear.weight \(weight.shape)")
                }
                let activation = config["activation_function"]?.stringValue ?? "torch.nn.modules.activation.Tanh"
                pipeline.dense.append(DenseLayer(weight: weight, bias: bias, activation: activation))
                files.append(AuxiliaryFile(name: sub + "/config.json", sourcePath: configPath))
                files.append(AuxiliaryFile(name: sub + "/model.safetensors", sourcePath: weightsPath))
            case "Normalize":
                pipeline.normalize = true
                if fileExists(base + "/config.json") { files.append(AuxiliaryFile(name: sub + "/config.json", sourcePath: base + "/config.json")) }
            default:
                throw ModelError(file: modulesPath, location: .key("\(index)"), "module type '\(type)' is not one ModelPort runs (Transformer, Pooling, Dense, Normalize)")
            }
        }
        guard let pooling else { throw ModelError(file: modulesPath, "no Pooling module") }
        pipeline.pooling = pooling
        for name in ["sentence_bert_config.json", "config_sentence_transformers.json"] where fileExists(folder + "/" + name) {
            files.append(AuxiliaryFile(name: name, sourcePath: folder + "/" + name))
        }
        return (pipeline, files)
    }

    /// `pooling_mode` (sentence-transformers ≥ 5: `cls`, `mean`, `max`, `lasttoken`) or the older boolean keys
    /// (`pooling_mode_cls_token`, `pooling_mode_mean_tokens`, `pooling_mode_max_tokens`, `pooling_mode_lasttoken`).
    static func poolingMode(_ path: String) throws -> PoolingMode {
        let json: JSON
        do { json = try JSON.parse(contentsOf: path) } catch { throw ModelError(error, file: path) }
        if let mode = json["pooling_mode"]?.stringValue {
            guard let known = PoolingMode(rawValue: mode.lowercased().replacing("_", with: "")) else {
                throw ModelError(file: path, location: .key("pooling_mode"), "'\(mode)' is not cls, mean, max or lasttoken")
            }
            return known
        }
        let flags: [(String, PoolingMode)] = [("pooling_mode_cls_token", .cls), ("pooling_mode_mean_tokens", .mean),
                                              ("pooling_mode_max_tokens", .max), ("pooling_mode_lasttoken", .lastToken)]
        let set = flags.filter { json[$0.0]?.boolValue == true }
        let others = ["pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens"].filter { json[$0]?.boolValue == true }
        guard set.count == 1, others.isEmpty else {
            throw ModelError(file: path, "exactly one of CLS, mean, max or last-token pooling is supported")
        }
        return set[0].1
    }
}
