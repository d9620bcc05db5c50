import BinaryIO
import ModelIR
import Transforms

/// PaddleNLP weights out: a folder with `model_state.pdparams`, `model_config.json` and `vocab.txt`, or one
/// `.pdparams` file when the destination is named so. BERT-family models only (PaddleNLP's `BertModel` and its task
/// classes).
public struct PaddleOutput: ModelOutput {
    public init() {}

    public var description: FormatDescription { PaddleSource().description }

    /// The model under PaddleNLP names, Linear weights transposed.
    public func prepare(_ model: Model) throws -> PreparedOutput {
        guard [.bert, .structbert].contains(model.config.architecture) else {
            throw ModelError(kind: .unsupported,
                             "PaddleNLP output holds BertModel weights; this model is \(model.config.architecture.rawValue)")
        }
        return PreparedOutput(model: try NameMap.toPaddleNLP.apply(to: try model.dequantizingBlocks()))
    }

    public func write(_ prepared: PreparedOutput, to destination: String, options: OutputOptions) throws -> [String] {
        let model = prepared.model
        if destination.hasSuffix(".pdparams") {
            try PaddleParamsWriter.write(model.tensors, to: destination, options: options)
            return [splitPath(destination).name]
        }
        return try ModelFolder.write(model, to: destination, options: options, config: false,
                                     auxiliaryFiles: { $0.name == "vocab.txt" }) { folder, inner in
            // transformers' tokenizer files mean nothing to PaddleNLP: only vocab.txt is carried.
            try PaddleParamsWriter.write(model.tensors, to: folder + "/model_state.pdparams", options: inner)
            let config = Array((Self.modelConfig(model).serialized(.pretty) + "\n").utf8)
            try ModelFolder.write(AuxiliaryFile(name: "model_config.json", contents: config), into: folder + "/model_config.json")
            return ["model_state.pdparams", "model_config.json"]
        }
    }

    /// PaddleNLP's `model_config.json`: `init_class` BertModel, or the task class such as
    /// BertForSequenceClassification with `num_classes`, and the encoder's constructor arguments nested.
    static func modelConfig(_ model: Model) -> JSON {
        let keys = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
                    "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
                    "initializer_range", "pad_token_id", "layer_norm_eps"]
        let args = JSON.object(keys.compactMap { key in model.config[key].map { (key, $0) } } + [("init_class", .string("BertModel"))])
        let task = model.task
        var members: [(key: String, value: JSON)] = [("init_args", .array([args])), ("init_class", .string("Bert" + task.head.classSuffix))]
        if task.head.isClassifier {
            members.append(("num_classes", .integer(task.labels.count)))
            if let labels = model.config["id2label"] { members.append(("id2label", labels)) }
        }
        return JSON.object(members)
    }
}
