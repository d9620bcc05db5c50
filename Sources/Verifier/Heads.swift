#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ModelIR

/// One head output of a forward pass, under the name transformers' model outputs give it (`logits`,
/// `start_logits`, `end_logits`, `prediction_logits`, `seq_relationship_logits`, `sop_logits`) or
/// sentence-transformers' (`sentence_embedding`).
public struct HeadOutput: Sendable {
    public var name: String
    public var values: [Float]
    /// `[batch, …]`.
    public var shape: [Int]
    /// Whether the output has one row per token (`[batch, length, width]`), compared on real tokens only.
    public var perToken: Bool

    /// The width of one compared row: the last dimension, or for per-sequence outputs everything after the batch.
    public var rowWidth: Int { perToken ? (shape.last ?? 1) : shape.dropFirst().reduce(1, *) }
}

/// The heads of fine-tuned BERT-family models on top of the encoder's outputs, as transformers computes them
/// (`BertForSequenceClassification`: classifier on the pooled [CLS] state; `…ForTokenClassification`: classifier on
/// every token; `…ForQuestionAnswering`: `qa_outputs` split into start and end; `BertLMPredictionHead`: dense, activation,
/// LayerNorm, decoder tied to the word embeddings) and the sentence-transformers pipeline (Pooling, Dense, Normalize).
enum Heads {
    static func run(_ model: Model, encoder w: Weights, output: inout ForwardOutput, inputs: EncoderInputs, albert: Bool) throws {
        let task = model.task
        let top = TopWeights(model: model)
        let B = inputs.batch, T = inputs.length, H = output.width
        let last = output.lastHiddenState
        switch task.head {
        case .sequenceClassification where top.has("classifier.out_proj.weight"), .reranker where top.has("classifier.out_proj.weight"):
            // RobertaClassificationHead: dense → tanh → out_proj on the first token (<s>).
            var first: [Float] = []
            for b in 0..<B { first += last[(b * T * H)..<((b * T + 1) * H)] }
            let (dense, denseBias, width) = try top.linear("classifier.dense", inFeatures: H)
            var x = try Kernels.linear(first, rows: B, weight: dense, bias: denseBias, inFeatures: H, outFeatures: width)
            try Kernels.activate(&x, "tanh")
            let (weight, bias, labels) = try top.linear("classifier.out_proj", inFeatures: width)
            let logits = try Kernels.linear(x, rows: B, weight: weight, bias: bias, inFeatures: width, outFeatures: labels)
            output.heads.append(HeadOutput(name: "logits", values: logits, shape: [B, labels], perToken: false))
        case .sequenceClassification, .reranker:
            guard let pooled = output.pooler else { throw VerifierError("a sequence classifier needs the pooler (\(albert ? "pooler" : "pooler.dense") tensors)") }
            let (weight, bias, labels) = try top.linear("classifier", inFeatures: H)
            let logits = try Kernels.linear(pooled, rows: B, weight: weight, bias: bias, inFeatures: H, outFeatures: labels)
            output.heads.append(HeadOutput(name: "logits", values: logits, shape: [B, labels], perToken: false))
        case .tokenClassification:
            let (weight, bias, labels) = try top.linear("classifier", inFeatures: H)
            let logits = try Kernels.linear(last, rows: B * T, weight: weight, bias: bias, inFeatures: H, outFeatures: labels)
            output.heads.append(HeadOutput(name: "logits", values: logits, shape: [B, T, labels], perToken: true))
        case .questionAnswering:
            let (weight, bias, outputs) = try top.linear("qa_outputs", inFeatures: H)
            guard outputs == 2 else { throw VerifierError("qa_outputs must have 2 outputs (start, end), found \(outputs)") }
            let both = try Kernels.linear(last, rows: B * T, weight: weight, bias: bias, inFeatures: H, outFeatures: 2)
            let start = stride(from: 0, to: both.count, by: 2).map { both[$0] }
            let end = stride(from: 1, to: both.count, by: 2).map { both[$0] }
            output.heads.append(HeadOutput(name: "start_logits", values: start, shape: [B, T], perToken: false))
            output.heads.append(HeadOutput(name: "end_logits", values: end, shape: [B, T], perToken: false))
        case .maskedLM, .preTraining:
            try maskedLM(model, encoder: w, top: top, output: &output, rows: B * T, shape: [B, T], albert: albert)
            if task.head == .preTraining, let pooled = output.pooler {
                let name = albert ? "sop_classifier.classifier" : "cls.seq_relationship"
                if top.has(name + ".weight") {
                    let (weight, bias, n) = try top.linear(name, inFeatures: H)
                    let logits = try Kernels.linear(pooled, rows: B, weight: weight, bias: bias, inFeatures: H, outFeatures: n)
                    output.heads.append(HeadOutput(name: albert ? "sop_logits" : "seq_relationship_logits", values: logits, shape: [B, n], perToken: false))
                }
            }
        case .sentenceEmbedding:
            guard let pipeline = model.pipeline else { return }
            var embedding = pool(last, mode: pipeline.pooling, batch: B, length: T, width: H, mask: inputs.attentionMask)
            var width = H
            for (i, layer) in pipeline.dense.enumerated() {
                guard layer.weight.shape.rank == 2, layer.weight.shape[1] == width else {
                    throw VerifierError("Dense module \(i + 1) takes \(layer.weight.shape.dimensions.last ?? 0) inputs, the pipeline gives \(width)")
                }
                let out = layer.weight.shape[0]
                embedding = try Kernels.linear(embedding, rows: B, weight: try Weights.floats(of: layer.weight),
                                               bias: try layer.bias.map(Weights.floats(of:)), inFeatures: width, outFeatures: out)
                try activate(&embedding, torchClass: layer.activation)
                width = out
            }
            if pipeline.normalize {
                for b in 0..<B {
                    let row = (b * width)..<((b + 1) * width)
                    let norm = max(embedding[row].reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                    for i in row { embedding[i] /= norm }
                }
            }
            output.heads.append(HeadOutput(name: "sentence_embedding", values: embedding, shape: [B, width], perToken: false))
        case .encoder:
            break
        }
    }

    /// `BertLMPredictionHead` / `AlbertMLMHead`: dense → activation → LayerNorm → decoder (its own weight, else the
    /// word embeddings it is tied to) + bias.
    static func maskedLM(_ model: Model, encoder w: Weights, top: TopWeights, output: inout ForwardOutput, rows: Int, shape: [Int], albert: Bool) throws {
        let p = albert ? "predictions." : "cls.predictions."
        let transform = albert ? p : p + "transform."
        guard top.has(transform + "dense.weight") else { return }
        let H = output.width
        let dense = try top.floats(transform + "dense.weight")
        guard H > 0, dense.count % H == 0 else { throw VerifierError("\(transform)dense.weight does not take the hidden size \(H)") }
        let E = dense.count / H
        var x = try Kernels.linear(output.lastHiddenState, rows: rows, weight: dense, bias: try top.floats(transform + "dense.bias"), inFeatures: H, outFeatures: E)
        try Kernels.activate(&x, model.config.hiddenAct ?? "gelu")
        try Kernels.layerNorm(&x, width: E, weight: try top.floats(transform + "LayerNorm.weight"), bias: try top.floats(transform + "LayerNorm.bias"),
                              eps: model.config.layerNormEps ?? 1e-12)
        let decoder = top.has(p + "decoder.weight") ? try top.floats(p + "decoder.weight") : try w.floats("embeddings.word_embeddings.weight")
        guard decoder.count % E == 0 else { throw VerifierError("the MLM decoder does not take width \(E)") }
        let vocabulary = decoder.count / E
        let bias = top.has(p + "bias") ? try top.floats(p + "bias") : top.has(p + "decoder.bias") ? try top.floats(p + "decoder.bias") : nil
        let logits = try Kernels.linear(x, rows: rows, weight: decoder, bias: bias, inFeatures: E, outFeatures: vocabulary)
        output.heads.append(HeadOutput(name: "prediction_logits", values: logits, shape: shape + [vocabulary], perToken: true))
    }

    /// sentence-transformers' Pooling over real tokens: [CLS], mean, max (padding excluded), or the last real token.
    static func pool(_ x: [Float], mode: PoolingMode, batch: Int, length: Int, width: Int, mask: [[Int]]) -> [Float] {
        var out = [Float](repeating: 0, count: batch * width)
        for b in 0..<batch {
            let real = (0..<length).filter { mask[b][$0] != 0 }
            func row(_ t: Int) -> ArraySlice<Float> { x[((b * length + t) * width)..<((b * length + t + 1) * width)] }
            switch mode {
            case .cls:
                for (i, v) in row(0).enumerated() { out[b * width + i] = v }
            case .lastToken:
                for (i, v) in row(real.last ?? 0).enumerated() { out[b * width + i] = v }
            case .mean:
                for t in real { for (i, v) in row(t).enumerated() { out[b * width + i] += v } }
                let count = Float(max(real.count, 1))
                for i in 0..<width { out[b * width + i] /= count }
            case .max:
                for i in 0..<width { out[b * width + i] = -Float.greatestFiniteMagnitude }
                for t in real { for (i, v) in row(t).enumerated() { out[b * width + i] = max(out[b * width + i], v) } }
            }
        }
        return out
    }

    /// A torch activation module by class name (`torch.nn.modules.activation.Tanh`).
    static func activate(_ x: inout [Float], torchClass: String) throws {
        switch torchClass.split(separator: ".").last.map(String.init) ?? torchClass {
        case "Identity": return
        case "Tanh": try Kernels.activate(&x, "tanh")
        case "ReLU": try Kernels.activate(&x, "relu")
        case "GELU": try Kernels.activate(&x, "gelu")
        case "Sigmoid": for i in x.indices { x[i] = 1 / (1 + expf(-x[i])) }
        default: throw VerifierError("Dense activation '\(torchClass)' is not supported")
        }
    }
}

/// Head tensors, which sit outside the encoder's `bert.` / `albert.` prefix.
struct TopWeights {
    let index: [String: Tensor]

    init(model: Model) { index = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }) }

    func has(_ name: String) -> Bool { index[name] != nil }

    func floats(_ name: String) throws -> [Float] {
        guard let tensor = index[name] else { throw VerifierError("missing head tensor '\(name)'") }
        return try Weights.floats(of: tensor)
    }

    /// A Linear's weight `[out, in]`, bias and output count, checked against `inFeatures`.
    func linear(_ name: String, inFeatures: Int) throws -> (weight: [Float], bias: [Float]?, outputs: Int) {
        guard let tensor = index[name + ".weight"] else { throw VerifierError("missing head tensor '\(name).weight'") }
        guard tensor.shape.rank == 2, tensor.shape[1] == inFeatures else {
            throw VerifierError("head tensor '\(name).weight' has shape \(tensor.shape), expected [outputs, \(inFeatures)]")
        }
        let bias = try index[name + ".bias"].map { try Weights.floats(of: $0) }
        if let bias, bias.count != tensor.shape[0] { throw VerifierError("head tensor '\(name).bias' does not match \(tensor.shape[0]) outputs") }
        return (try Weights.floats(of: tensor), bias, tensor.shape[0])
    }
}
