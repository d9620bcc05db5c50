import ModelIR

/// What the user says about a model's task when its files cannot (`--task`, `--labels`).
public struct TaskOptions: Sendable, Equatable {
    /// The head to assume (`--task`); nil means the source's config or the head tensors decide.
    public var head: HeadKind?
    /// Classifier labels in id order (`--labels a,b,c` or a labels file); the source's config wins when it has them.
    public var labels: [String]?

    public init(head: HeadKind? = nil, labels: [String]? = nil) {
        self.head = head
        self.labels = labels
    }
}

extension Model {
    /// The model with its task settled and written into the config as transformers keeps it: `architectures`
    /// (`BertForSequenceClassification`, `AlbertForQuestionAnswering`), `id2label` / `label2id`; the encoder's tensors
    /// under the family prefix (`bert.`) beside a head; tensors the Hugging Face class does not have (the pooler of a
    /// token classifier or QA model) dropped and listed. A head whose shape disagrees with the labels or the hidden
    /// size is an error.
    ///
    /// A bare encoder, or an architecture without Hugging Face task classes (Perceiver, COCO-LM), is returned as is.
    public func applyingTask(_ options: TaskOptions = .init()) throws -> Model {
        let shown = HeadKind.detect(tensorNames: tensors.map(\.name))
        let stated = config.statedHead
        var head = options.head ?? (stated == .encoder ? nil : stated) ?? shown ?? (pipeline != nil ? .sentenceEmbedding : .encoder)
        // A class ModelPort has no head kind for (BertForMultipleChoice, …ForNextSentencePrediction) is kept as it is.
        if options.head == nil, stated == nil, config["architectures"]?.arrayValue?.first?.stringValue != nil { return self }
        guard let prefix = config.architecture.basePrefix else {
            if let requested = options.head, requested != .encoder {
                throw ModelError(kind: .unsupported, "the task \(requested.rawValue) applies to BERT, RoBERTa and ALBERT models; this one is \(config.architecture.rawValue)")
            }
            return self
        }
        var result = self
        if let requested = options.head {
            try Self.check(requested, against: shown)
        } else if stated == nil || stated == .encoder, shown == .sequenceClassification {
            result.notes.append(Note(.task, "task: assumed sequence classification (run_classifier.py's output_weights / classifier); "
                + "a tagger with the same names is a token-classification task, a cross-encoder a reranker task"))
        }
        if head == .encoder || head == .sentenceEmbedding {
            if config["architectures"] == nil, shown == nil, pipeline == nil { return result }
            result.config.setTask(head, labels: nil)
            return result
        }

        // The head's output width: labels for classifiers, 2 for QA (start, end).
        let hidden = config.hiddenSize
        var labels: [String]? = nil
        if head.isClassifier || head == .questionAnswering {
            // RoBERTa's sequence head is classifier.dense (hidden → hidden) then classifier.out_proj (hidden → labels).
            let weightName = head == .questionAnswering ? "qa_outputs.weight"
                : self["classifier.out_proj.weight"] != nil ? "classifier.out_proj.weight" : "classifier.weight"
            guard let weight = self[weightName], weight.shape.rank == 2 else {
                throw ModelError(location: .tensor(weightName), "the \(head.description) head needs this [outputs, hidden] tensor")
            }
            let outputs = weight.shape[0]
            // A head names labels one by one: an empty or absurdly wide one is a broken file, not a classifier.
            guard outputs > 0, outputs <= 1 << 20, weight.shape[1] > 0 else {
                throw ModelError(location: .tensor(weightName), "shape \(weight.shape) is not a classifier head")
            }
            if let hidden, weight.shape[1] != hidden {
                throw ModelError(location: .tensor(weightName), "shape \(weight.shape) does not match hidden_size \(hidden)")
            }
            if let bias = self[weightName.replacing(".weight", with: ".bias")], bias.shape.dimensions != [outputs] {
                throw ModelError(location: .tensor(bias.name), "shape \(bias.shape) does not match the \(outputs) outputs of \(weightName)")
            }
            if head == .questionAnswering {
                guard outputs == 2 else { throw ModelError(location: .tensor(weightName), "a QA head has 2 outputs (start, end), this one \(outputs)") }
            } else {
                if let given = config.labels {
                    guard given.count == outputs else {
                        throw ModelError(location: .tensor(weightName), "has \(outputs) outputs but id2label names \(given.count) labels")
                    }
                    labels = given
                } else if let given = options.labels {
                    guard given.count == outputs else {
                        throw ModelError(location: .tensor(weightName), "has \(outputs) outputs but \(given.count) labels were given")
                    }
                    labels = given
                } else {
                    if let count = config.labelCount, count != outputs {
                        throw ModelError(location: .tensor(weightName), "has \(outputs) outputs but the config says \(count) labels")
                    }
                    labels = (0..<outputs).map { "LABEL_\($0)" }
                    result.notes.append(Note(.task, "labels: none in the source; named LABEL_0…LABEL_\(outputs - 1) (labels given with the task name them)"))
                }
                if head == .sequenceClassification, outputs == 1, options.head == nil { head = .reranker }
            }
        }
        if head == .reranker, let count = labels?.count, count != 1 {
            result.notes.append(Note(.task, "reranker with \(count) outputs: every output is a score"))
        }

        // Encoder tensors under the family prefix, head tensors at the top (BertFor… state-dict names).
        let encoderParts = ["embeddings.", "encoder.", "pooler."]
        result.tensors = []
        for var tensor in tensors {
            if encoderParts.contains(where: { tensor.name.hasPrefix($0) }) { tensor.name = prefix + tensor.name }
            let bare = tensor.name.hasPrefix(prefix) ? String(tensor.name.dropFirst(prefix.count)) : tensor.name
            // RoBERTa's task classes all build their encoder without the pooler.
            if bare.hasPrefix("pooler."), !head.hasPooler || config.architecture == .roberta {
                result.dropped.append(DroppedTensor(name: tensor.name, kind: .head, reason: "\(config.architecture.huggingFaceClassPrefix ?? "")\(head.classSuffix) has no pooler",
                                                    byteCount: tensor.info.byteCount ?? 0))
                continue
            }
            result.tensors.append(tensor)
        }
        result.config.setTask(head, labels: labels)
        try result.validate()
        return result
    }

    /// Refuses a `--task` that the head tensors cannot serve.
    static func check(_ requested: HeadKind, against shown: HeadKind?) throws {
        let compatible: Bool
        switch requested {
        case .sequenceClassification, .tokenClassification, .reranker: compatible = shown == .sequenceClassification
        case .questionAnswering: compatible = shown == .questionAnswering
        case .preTraining: compatible = shown == .preTraining
        case .maskedLM: compatible = shown == .maskedLM || shown == .preTraining
        case .encoder, .sentenceEmbedding: compatible = true
        }
        guard compatible else {
            let has = shown.map { "has a \($0.description) head" } ?? "has no head tensors"
            throw ModelError(kind: .invalidRequest, "the task \(requested.rawValue) does not fit this model, which \(has)")
        }
    }
}
