import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelIR
import Quantization
import Transforms

/// How an ONNX graph stores its weights.
public enum ONNXPrecision: String, Sendable, CaseIterable {
    /// fp32 weights and arithmetic.
    case fp32
    /// fp16 weights (Linear, embedding tables, heads), each cast to fp32 where it is used: half the file, and a graph
    /// every execution provider runs (ORT folds the casts into fp32 constants when it loads the model); LayerNorm
    /// parameters and biases stay fp32.
    case fp16
    /// int8 Linear weights with one scale per output channel and activations quantized at run time as
    /// `ONNXExportOptions.int8Activations` says, through the standard `MatMulInteger` (uint8 activations, int8
    /// weights: ORT's integer GEMM); embedding tables int8 with one scale per row, gathered then scaled. Standard
    /// operators only.
    case int8
}

/// How an int8 graph quantizes the activations entering each Linear at run time.
public enum ONNXInt8Activations: String, Sendable, CaseIterable {
    /// One scale per token (row), symmetric, written in standard operators: the closest to fp32, but ONNX Runtime runs
    /// the quantizing subgraph op by op.
    case perToken = "per-token"
    /// One scale and zero point per tensor from `DynamicQuantizeLinear`, each Linear written as the pattern ONNX Runtime's
    /// session optimizer fuses into `com.microsoft.DynamicQuantizeMatMul` (`ONNXExporter.fusableInt8Linear`): faster,
    /// one outlier token sets the step for the whole batch.
    case perTensor = "fast"
    /// The `fast` pattern with SmoothQuant's per-channel migration in every encoder layer (`Smoothing`): each Linear's
    /// input divided per channel by `s` (one `Mul`, Q, K and V sharing it), its weight columns multiplied by `s` before
    /// the per-channel int8 rounding, so the outlier channels of trained encoders no longer set the per-tensor step.
    /// ALBERT and COCO-LM layers keep the `fast` form.
    case smoothed = "smooth"
}

/// Where initializer bytes go.
public enum ONNXExternalData: Sendable, Equatable {
    /// Inside `model.onnx`, unless the file would pass protobuf's 2 GiB limit; then in `model.onnx_data`.
    case automatic
    /// Always in a `model.onnx_data` file beside the graph.
    case always
}

/// How each layer's self-attention is written.
public enum ONNXAttention: String, Sendable, CaseIterable {
    /// Standard operators at opset 17 (MatMul, Softmax, the additive mask): every runtime runs it. ONNX Runtime's
    /// session optimizer fuses its LayerNorm and GELU but cannot fuse its attention at any opset ≥ 14 (why, with
    /// references to ORT's source: `EncoderGraph.additiveMask()`); its offline optimizer
    /// (`python -m onnxruntime.transformers.optimizer --model_type bert`) does.
    case standard
    /// ONNX Runtime's fused kernel, written directly: Q, K and V as one Linear (the three weights stacked, so one
    /// product), split, then `com.microsoft.MultiHeadAttention` with the padding mask as its `key_padding_mask`
    /// (ORT `docs/ContribOperators.md`). Runs on ONNX Runtime only; COCO-LM (relative-position bias) keeps the
    /// standard form.
    case onnxRuntime = "ort"
}

/// Where the graph goes in a folder destination; `config.json` and the tokenizer files sit at the top either way.
public enum ONNXFolderLayout: String, Sendable, CaseIterable {
    /// `model.onnx` at the top, as `optimum-cli export onnx` writes and optimum's `ORTModel*` classes load.
    case optimum
    /// `onnx/model.onnx`, `onnx/model_fp16.onnx` or `onnx/model_quantized.onnx`: the file transformers.js loads for
    /// `dtype` fp32, fp16 and q8 (its `DEFAULT_DTYPE_SUFFIX_MAPPING` in `src/utils/dtypes.js`: '', '_fp16',
    /// '_quantized'; the models in `onnx/` beside the config in `src/models.js`).
    case transformersJS = "transformers.js"

    /// The graph's path inside the folder for `precision`.
    public func graphPath(for precision: ONNXPrecision) -> String {
        switch self {
        case .optimum: return "model.onnx"
        case .transformersJS:
            switch precision {
            case .fp32: return "onnx/model.onnx"
            case .fp16: return "onnx/model_fp16.onnx"
            case .int8: return "onnx/model_quantized.onnx"
            }
        }
    }
}

/// What `ONNXExporter.plan` builds, and where a folder destination puts it.
public struct ONNXExportOptions: Sendable {
    public var precision: ONNXPrecision = .fp32
    public var externalData: ONNXExternalData = .automatic
    public var layout: ONNXFolderLayout = .optimum
    public var attention: ONNXAttention = .standard
    /// For `precision` int8: how activations are quantized.
    public var int8Activations: ONNXInt8Activations = .smoothed
    public init(precision: ONNXPrecision = .fp32, externalData: ONNXExternalData = .automatic, layout: ONNXFolderLayout = .optimum,
                attention: ONNXAttention = .standard, int8Activations: ONNXInt8Activations = .smoothed) {
        self.precision = precision
        self.externalData = externalData
        self.layout = layout
        self.attention = attention
        self.int8Activations = int8Activations
    }
}

/// A planned ONNX model: the graph's nodes, inputs and outputs (small, built in memory), and initializers whose bytes
/// are still in the source, pulled one at a time by `ONNXWriter`.
public struct ONNXPlan: Sendable {
    /// The ONNX opset of the default domain the graph uses.
    public static let opset = 17
    /// `ir_version` 8 is the IR of opset 17 (ONNX `docs/Versioning.md`).
    public static let irVersion = 8

    var graph: Onnx_GraphProto
    public var initializers: [ONNXInitializer]
    public var metadata: [(key: String, value: String)]
    public var usesMicrosoftDomain = false

    /// The op types in node order.
    public var nodeTypes: [String] { graph.node.map(\.opType) }
    public var inputNames: [String] { graph.input.map(\.name) }
    public var outputNames: [String] { graph.output.map(\.name) }
}

/// Writes the graph of a BERT-family encoder from its architecture and config, the way transformers computes it
/// (`modeling_bert.py`, `modeling_roberta.py`, `modeling_albert.py`; the verifier's `Encoder` is the same computation
/// in Swift): no tracing. Inputs and outputs carry the names optimum's exports use.
public enum ONNXExporter {
    public static func plan(_ model: Model, options: ONNXExportOptions = .init()) throws -> ONNXPlan {
        var exporter = try EncoderGraph(model: model, options: options)
        try exporter.build()
        var graph = Onnx_GraphProto()
        graph.name = model.config.architecture.huggingFaceModelClass ?? "encoder"
        graph.node = exporter.b.nodes
        graph.input = exporter.b.inputs
        graph.output = exporter.b.outputs
        var metadata: [(String, String)] = [("modelport.config", model.config.huggingFaceText(weightsDType: nil))]
        metadata.append(("modelport.precision", options.precision.rawValue))
        if exporter.fusesAttention { metadata.append(("modelport.attention", options.attention.rawValue)) }
        if let pipeline = model.pipeline {
            metadata.append(("modelport.pooling", pipeline.pooling.rawValue))
        }
        var plan = ONNXPlan(graph: graph, initializers: exporter.b.initializers, metadata: metadata)
        plan.usesMicrosoftDomain = exporter.b.usesMicrosoft
        return plan
    }
}

extension ONNXExporter {
    /// The head the graph computes: the model's task, except that a config naming the bare encoder (`BertModel`,
    /// as `--task encoder` writes it) keeps masked-LM and pre-training tensors out of the graph.
    public static func head(of model: Model) -> HeadKind {
        let head = model.task.head
        if model.config.statedHead == .encoder, head == .maskedLM || head == .preTraining { return .encoder }
        return head
    }
}

/// The graph of one encoder model, built node by node.
struct EncoderGraph {
    let model: Model
    let options: ONNXExportOptions
    let config: ModelConfig
    let architecture: Architecture
    var b = GraphBuilder()
    /// Activations already quantized per token, by the value they came from.
    var tokenQuantized: [String: (values: String, scale: String)] = [:]
    /// Whether `activationZeroPoint()`'s initializer is planned.
    var hasActivationZeroPoint = false
    /// The int32 `attention_mask` that `MultiHeadAttention` takes, once made.
    var keyPaddingMask: String?
    /// The LayerNorm whose output is the value the next encoder layer reads (nil when something else comes between).
    var inputNorm: String?
    /// Whether layers use ONNX Runtime's fused attention (`ONNXAttention.onnxRuntime`).
    var fusesAttention: Bool { options.attention == .onnxRuntime && architecture != .cocolm }
    /// The encoder's tensor prefix (`bert.`, `roberta.`, or none).
    let prefix: String
    var index: [String: Tensor]
    let hidden: Int, heads: Int, intermediate: Int, layers: Int
    let eps: Float
    let activation: String

    init(model: Model, options: ONNXExportOptions) throws {
        self.model = model
        self.options = options
        config = model.config
        architecture = config.architecture
        switch architecture {
        case .bert, .structbert, .roberta, .albert, .cocolm: break
        case .unknown where model.tensors.contains(where: { $0.name.contains("encoder.layer.") }): break
        default:
            throw ONNXError(.cannotExport, "ONNX export has no graph for architecture '\(architecture.rawValue)' "
                            + "(BERT, StructBERT, RoBERTa, ALBERT and COCO-LM are supported)")
        }
        let index = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.index = index
        let anchor = "embeddings.word_embeddings.weight"
        let prefixes = ["", "bert.", "roberta.", "albert.", "sbert.", "structbert.", "cocolm.", "model."]
        guard let found = prefixes.first(where: { index[$0 + anchor] != nil }) else {
            throw ONNXError(.cannotExport, "no '\(anchor)' tensor: not a BERT-family encoder")
        }
        prefix = found
        guard let hidden = config.hiddenSize, let heads = config.numAttentionHeads, let intermediate = config.intermediateSize,
              let layers = config.numHiddenLayers else {
            throw ONNXError(.cannotExport, "config lacks hidden_size / num_attention_heads / intermediate_size / num_hidden_layers")
        }
        guard heads > 0, hidden > 0, hidden % heads == 0, intermediate > 0, layers >= 0, layers <= 1024 else {
            throw ONNXError(.cannotExport, "config sizes are inconsistent (hidden_size \(hidden), num_attention_heads \(heads))")
        }
        self.hidden = hidden
        self.heads = heads
        self.intermediate = intermediate
        // A model cut with --keep-layers says so in num_hidden_layers; count the layers present for other encoders.
        if architecture == .albert {
            self.layers = layers
        } else {
            let present = Set(model.tensors.compactMap { LayerName.index(in: $0.name) })
            self.layers = present.count
        }
        let defaultEps = architecture == .roberta || architecture == .cocolm ? 1e-5 : 1e-12
        eps = Float(config.layerNormEps ?? defaultEps)
        activation = config.hiddenAct ?? "gelu"
    }

    // MARK: - Weights

    func tensor(_ name: String) throws -> Tensor {
        guard let t = index[name] else { throw ONNXError(.cannotExport, "missing tensor '\(name)'") }
        guard t.dtype.isFloatingPoint, !t.dtype.isQuantized else {
            throw ONNXError(.cannotExport, "tensor '\(name)' is \(t.dtype.rawValue); ONNX export takes float weights")
        }
        return t
    }

    func has(_ name: String) -> Bool { index[name] != nil }

    /// A float initializer from a source tensor in `type`, transposed first when asked (Linear weights become
    /// MatMul's [in, out]).
    mutating func weight(_ name: String, transposed: Bool = false, type: ONNXElementType = .float, shape: [Int]? = nil) throws -> String {
        var t = try tensor(name)
        if let shape, t.shape.dimensions != shape {
            throw ONNXError(.cannotExport, "tensor '\(name)' has shape \(t.shape), expected \(Shape(shape))")
        }
        if transposed {
            guard t.shape.rank == 2 else { throw ONNXError(.cannotExport, "tensor '\(name)' is not a matrix") }
            t = try t.transposed()
        }
        let target = type.dtype
        if t.dtype != target { t = t.cast(to: target) }  // streamed, a piece at a time
        b.initializers.append(ONNXInitializer(name: name, type: type, dims: t.shape.dimensions, data: t.data))
        return name
    }

    /// A weight matrix or table in the storage precision, as fp32 values in the graph.
    mutating func storedWeight(_ name: String, transposed: Bool, shape: [Int]? = nil) throws -> String {
        switch options.precision {
        case .fp32, .int8:
            return try weight(name, transposed: transposed, shape: shape)
        case .fp16:
            let stored = try weight(name, transposed: transposed, type: .float16, shape: shape)
            return b.op("Cast", [stored], name: "/" + name + "/Cast", Attribute.int("to", Int(ONNXElementType.float.rawValue)))
        }
    }

    /// `x · Wᵀ + b` for the Linear `name` (`name.weight` [out, in], `name.bias`).
    mutating func linear(_ x: String, _ name: String, inFeatures: Int, outFeatures: Int) throws -> String {
        let path = "/" + name.replacing(".", with: "/")
        let product: String
        if options.precision == .int8 {
            let w = try tensor(name + ".weight")
            guard w.shape.dimensions == [outFeatures, inFeatures] else {
                throw ONNXError(.cannotExport, "tensor '\(name).weight' has shape \(w.shape), expected [\(outFeatures), \(inFeatures)]")
            }
            // Per-channel int8 weights; the smooth and fast forms quantize activations per tensor in the pattern ORT
            // fuses (`fusableInt8Linear`), per-token below. MatMulInteger with uint8 A and int8 B runs on ORT's u8·s8
            // integer GEMM, the kernel quantize_dynamic's graphs reach. Measured on this project's
            // 2-core Zen 4 with ORT 1.32 (Benchmarks/bench_onnx.py): on par with quantize_dynamic's per-channel model
            // and about 1.5× faster than MatMulNBits (8 bits, blocks of 32, accuracy_level 4; blocks of 64 or 128 and
            // 4 bits no faster), which this graph used before; int8 activations (s8·s8) fall to a far slower kernel.
            let (q, scale) = Int8Weights.perOutputChannel(w, name: name + ".weight")
            b.initializers += [q, scale]
            if options.int8Activations != .perToken {
                return try fusableInt8Linear(x, name, path: path, quantized: q.name, scale: scale.name, outFeatures: outFeatures)
            }
            let (xq, rowScale) = quantizedPerToken(x, path: path)
            let integer = b.op("MatMulInteger", [xq, q.name, activationZeroPoint()], name: path + "/MatMulInteger")
            let float = b.op("Cast", [integer], name: path + "/Cast", Attribute.int("to", Int(ONNXElementType.float.rawValue)))
            product = b.op("Mul", [b.op("Mul", [float, rowScale], name: path + "/MulRowScale"), scale.name], name: path + "/Mul")
        } else {
            let w = try storedWeight(name + ".weight", transposed: true, shape: [outFeatures, inFeatures])
            product = b.op("MatMul", [x, w], name: path + "/MatMul")
        }
        guard has(name + ".bias") else { return product }
        let bias = try weight(name + ".bias", shape: [outFeatures])
        // The product first, the bias second: ORT's AttentionFusion and BiasSkipLayerNormFusion follow a Linear back
        // through input 0 of its Add (onnxruntime/core/optimizer/attention_fusion.cc, bias_skip_layer_norm_fusion.cc).
        return b.op("Add", [product, bias], name: path + "/Add")
    }

    /// `x` with one scale per row (token), symmetric: `s = max|x| / 127` over the last axis, `x ≈ (q − 128) · s` with
    /// `q = round(x / s) + 128` as uint8 (1…255). Per-tensor dynamic quantization (`DynamicQuantizeLinear`, what
    /// quantize_dynamic writes) lets one outlier token set the step for the whole batch; per token, each row keeps its
    /// own range. Q, K and V share the quantization of their one input.
    mutating func quantizedPerToken(_ x: String, path: String) -> (values: String, scale: String) {
        if let cached = tokenQuantized[x] { return cached }
        let absmax = b.op("ReduceMax", [b.op("Abs", [x], name: path + "/Abs")], name: path + "/ReduceMax",
                          Attribute.ints("axes", [-1]), Attribute.int("keepdims", 1))
        let rowScale = b.op("Mul", [b.op("Max", [absmax, b.floats([1e-30])], name: path + "/Max"), b.floats([1 / 127])], name: path + "/RowScale")
        let rounded = b.op("Round", [b.op("Div", [x, rowScale], name: path + "/Div")], name: path + "/Round")
        let shifted = b.op("Add", [rounded, b.floats([128])], name: path + "/AddZeroPoint")
        let xq = b.op("Cast", [shifted], name: path + "/CastUInt8", Attribute.int("to", Int(ONNXElementType.uint8.rawValue)))
        tokenQuantized[x] = (xq, rowScale)
        return (xq, rowScale)
    }

    /// The uint8 scalar 128, MatMulInteger's `a_zero_point` for `quantizedPerToken`'s values.
    mutating func activationZeroPoint() -> String {
        let name = "/const_u8_128"
        if !hasActivationZeroPoint {
            b.initializers.append(ONNXInitializer(name: name, type: .uint8, dims: [], data: .owned(TensorBuffer([128]))))
            hasActivationZeroPoint = true
        }
        return name
    }

    mutating func layerNorm(_ x: String, _ name: String) throws -> String {
        let path = "/" + name.replacing(".", with: "/")
        let scale = try weight(name + ".weight"), bias = try weight(name + ".bias")
        return b.op("LayerNormalization", [x, scale, bias], name: path + "/LayerNormalization",
                    Attribute.int("axis", -1), Attribute.float("epsilon", eps))
    }

    /// The activation `hidden_act` names, as the Erf / Tanh patterns ORT's GELU fusions recognize.
    mutating func activate(_ x: String, _ act: String, path: String) throws -> String {
        switch act {
        case "gelu", "gelu_python":
            let div = b.op("Div", [x, b.floats([Float(2).squareRoot()])], name: path + "/Div")
            let erf = b.op("Erf", [div], name: path + "/Erf")
            let add = b.op("Add", [erf, b.floats([1])], name: path + "/Add")
            let mul = b.op("Mul", [x, add], name: path + "/Mul")
            return b.op("Mul", [mul, b.floats([0.5])], name: path + "/Mul_1")
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
            // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
            let cube = b.op("Pow", [x, b.floats([3])], name: path + "/Pow")
            let scaled = b.op("Mul", [cube, b.floats([0.044715])], name: path + "/Mul")
            let inner = b.op("Add", [x, scaled], name: path + "/Add")
            let times = b.op("Mul", [inner, b.floats([Float((2 / Double.pi).squareRoot())])], name: path + "/Mul_1")
            let tanh = b.op("Tanh", [times], name: path + "/Tanh")
            let one = b.op("Add", [tanh, b.floats([1])], name: path + "/Add_1")
            let half = b.op("Mul", [x, b.floats([0.5])], name: path + "/Mul_2")
            return b.op("Mul", [half, one], name: path + "/Mul_3")
        case "relu": return b.op("Relu", [x], name: path + "/Relu")
        case "tanh": return b.op("Tanh", [x], name: path + "/Tanh")
        case "silu", "swish":
            let s = b.op("Sigmoid", [x], name: path + "/Sigmoid")
            return b.op("Mul", [x, s], name: path + "/Mul")
        default:
            throw ONNXError(.cannotExport, "hidden_act '\(act)' has no ONNX graph here")
        }
    }

    // MARK: - The graph

    mutating func build() throws {
        let dynamic: [GraphBuilder.Dimension] = [.symbol("batch_size"), .symbol("sequence_length")]
        b.input("input_ids", type: .int64, dims: dynamic)
        b.input("attention_mask", type: .int64, dims: dynamic)
        let p = prefix
        let typeTable = p + "embeddings.token_type_embeddings.weight"
        let hasTypes = has(typeTable) && (architecture != .cocolm || (config.typeVocabSize ?? 0) > 0)
        if hasTypes { b.input("token_type_ids", type: .int64, dims: dynamic) }

        var x = try embeddings(hasTypes: hasTypes)
        let mask = fusesAttention ? "" : additiveMask()
        switch architecture {
        case .albert:
            x = try linear(x, p + "encoder.embedding_hidden_mapping_in", inFeatures: config.embeddingSize ?? hidden, outFeatures: hidden)
            let groups = config["num_hidden_groups"]?.intValue ?? 1
            let inner = config["inner_group_num"]?.intValue ?? 1
            guard groups >= 1, groups <= max(layers, 1), inner >= 1, inner <= 64 else {
                throw ONNXError(.cannotExport, "ALBERT num_hidden_groups \(groups) / inner_group_num \(inner) are out of range")
            }
            // One set of weights per group, applied num_hidden_layers times: each initializer is stored once and
            // every application refers to it.
            var planned = Set<String>()
            for i in 0..<layers {
                let group = Int(Double(i) / (Double(layers) / Double(groups)))
                for k in 0..<inner {
                    x = try layer(x, mask: mask, prefix: p + "encoder.albert_layer_groups.\(group).albert_layers.\(k).", albert: true,
                                  reuse: &planned)
                }
            }
        default:
            var planned = Set<String>()
            for i in 0..<layers {
                x = try layer(x, mask: mask, prefix: p + "encoder.layer.\(i).", albert: false, reuse: &planned)
            }
        }
        let last = b.op("Identity", [x], name: "/last_hidden_state/Identity")
        rename(last, to: "last_hidden_state")
        b.output("last_hidden_state", type: .float, dims: [.symbol("batch_size"), .symbol("sequence_length"), .fixed(hidden)])
        try heads(last: "last_hidden_state")
    }

    /// Renames the output of the node that produced `value`.
    mutating func rename(_ value: String, to name: String) {
        guard let n = b.nodes.lastIndex(where: { $0.output.contains(value) }), let o = b.nodes[n].output.firstIndex(of: value) else { return }
        b.nodes[n].output[o] = name
    }

    /// Word + position (+ token type) embeddings, then LayerNorm (COCO-LM: padded rows zeroed after it).
    mutating func embeddings(hasTypes: Bool) throws -> String {
        let p = prefix + "embeddings."
        let words = try storedTable(p + "word_embeddings.weight", ids: "input_ids")
        let positionIds: String
        if architecture == .roberta {
            // transformers' create_position_ids_from_input_ids: cumsum(ids ≠ pad) · (ids ≠ pad) + pad.
            let pad = Int64(config.padTokenId ?? 1)
            let equal = b.op("Equal", ["input_ids", b.ints([pad], dims: [])], name: "/embeddings/Equal")
            let notPad = b.op("Not", [equal], name: "/embeddings/Not")
            let ones = b.op("Cast", [notPad], name: "/embeddings/Cast", Attribute.int("to", Int(ONNXElementType.int64.rawValue)))
            let sum = b.op("CumSum", [ones, b.ints([1], dims: [])], name: "/embeddings/CumSum")
            let kept = b.op("Mul", [sum, ones], name: "/embeddings/Mul")
            positionIds = b.op("Add", [kept, b.ints([pad], dims: [])], name: "/embeddings/Add")
        } else {
            // A Range gives [seq] with a length shape inference cannot name, so the embedding sum loses the
            // `sequence_length` dimension and ORT's SkipLayerNormFusion (which wants both Add inputs with the same named
            // 3-D shape) does not fire. Deliberately so: measured with ORT 1.32 on CPU, its SkipLayerNormalization
            // kernel is slower than Add + LayerNormalization (MiniLM-shaped, 128 tokens: 46.0 vs 32.8 ms at batch 1).
            let shape = b.op("Shape", ["input_ids"], name: "/embeddings/Shape")
            let length = b.op("Gather", [shape, b.ints([1], dims: [])], name: "/embeddings/Gather", Attribute.int("axis", 0))
            positionIds = b.op("Range", [b.ints([0], dims: []), length, b.ints([1], dims: [])], name: "/embeddings/Range")
        }
        let positions = try storedTable(p + "position_embeddings.weight", ids: positionIds)
        var sum = b.op("Add", [words, positions], name: "/embeddings/Add_1")
        if hasTypes {
            let types = try storedTable(p + "token_type_embeddings.weight", ids: "token_type_ids")
            sum = b.op("Add", [sum, types], name: "/embeddings/Add_2")
        }
        var x = try layerNorm(sum, p + "LayerNorm")
        inputNorm = p + "LayerNorm"
        if architecture == .cocolm {
            inputNorm = nil
            let m = maskFloat(unsqueezeLast: true)
            x = b.op("Mul", [x, m], name: "/embeddings/MaskMul")
        }
        return x
    }

    /// Rows of an embedding table for `ids`, in fp32 (int8 tables: rows gathered, then scaled by their row's scale).
    mutating func storedTable(_ name: String, ids: String) throws -> String {
        let path = "/" + name.replacing(".", with: "/")
        if options.precision == .int8 {
            let t = try tensor(name)
            guard t.shape.rank == 2 else { throw ONNXError(.cannotExport, "tensor '\(name)' is not a table") }
            let (q, scale) = Int8Weights.perRow(t, name: name)
            b.initializers += [q, scale]
            let rows = b.op("Gather", [q.name, ids], name: path + "/Gather")
            let float = b.op("Cast", [rows], name: path + "/Cast", Attribute.int("to", Int(ONNXElementType.float.rawValue)))
            let scales = b.op("Gather", [scale.name, ids], name: path + "/GatherScale")
            let column = b.op("Unsqueeze", [scales, b.ints([-1])], name: path + "/Unsqueeze")
            return b.op("Mul", [float, column], name: path + "/Mul")
        }
        let table = try storedWeight(name, transposed: false)
        return b.op("Gather", [table, ids], name: path + "/Gather")
    }

    /// The attention mask as float, `[batch, seq, 1]` or `[batch, seq]`.
    mutating func maskFloat(unsqueezeLast: Bool) -> String {
        let f = b.op("Cast", ["attention_mask"], name: "/mask/Cast", Attribute.int("to", Int(ONNXElementType.float.rawValue)))
        guard unsqueezeLast else { return f }
        return b.op("Unsqueeze", [f, b.ints([-1])], name: "/mask/Unsqueeze")
    }

    /// `(1 − mask) · float32.min`, `[batch, 1, 1, seq]`: transformers' extended attention mask.
    ///
    /// ONNX Runtime's session optimizer cannot fuse an attention block with a padding mask into its `Attention` kernel
    /// in any graph of opset ≥ 14, whatever form the mask takes; read in onnxruntime v1.32.0's source
    /// (github.com/microsoft/onnxruntime, `onnxruntime/core/optimizer/`) and confirmed with its verbose log
    /// (`SessionOptions.log_severity_level = 0`, which prints the file and line where each match stops):
    /// - `AttentionFusion::FuseSubGraph` (`attention_fusion.cc`; it gives up at line 1362) takes the mask from
    ///   `AttentionFusionHelper::MatchInputMaskSubgraph` (`attention_fusion_helper.h`, lines 613–677). That walks
    ///   Softmax ← Add ← Mul ← Sub (opset-14 Add/Mul/Sub are accepted: line 648 passes), then Sub's second input
    ///   through Cast → Unsqueeze → Unsqueeze or Unsqueeze → Unsqueeze (`mask_path_format_1`, `_2`), accepting Cast only
    ///   at since-version 9 and Unsqueeze only at since-versions 1 and 11. From opset 13 on, Cast and Unsqueeze are
    ///   version 13, so every graph stops at line 677: this one, one with the Cast moved before the Unsqueezes (the
    ///   second form), one with the Mul constant −10000.
    /// - Its DistilBERT form (Equal → Reshape → Expand → Where(−∞) → Softmax, lines 733–744) accepts Reshape at
    ///   since-versions 1, 5 and 13 and Where at 9: written at opset 17 it stops at line 744; the same graph declared
    ///   opset 13 passes that step, so Reshape-14 (opset ≥ 14) is what stops it.
    /// - `TryFuseMobileClipMHA` (`attention_fusion.cc`) yields a MultiHeadAttention with no mask input: no use for
    ///   padded batches.
    /// The mask keeps the two-Unsqueeze form, which the offline optimizer (`onnxruntime/python/tools/transformers/
    /// fusion_attention.py`) does fuse, and `ONNXAttention.onnxRuntime` writes ORT's fused kernel directly.
    mutating func additiveMask() -> String {
        // Two Unsqueezes (axes 1, then 2), then Cast, Sub, Mul: with this form onnxruntime's offline BERT optimizer
        // (`python -m onnxruntime.transformers.optimizer --model_type bert`, onnxruntime 1.32) fuses Attention; one
        // Unsqueeze of axes [1, 2] computes the same and is not matched.
        let u1 = b.op("Unsqueeze", ["attention_mask", b.ints([1])], name: "/mask/Unsqueeze_1")
        let u = b.op("Unsqueeze", [u1, b.ints([2])], name: "/mask/Unsqueeze_2")
        let f = b.op("Cast", [u], name: "/mask/Cast_1", Attribute.int("to", Int(ONNXElementType.float.rawValue)))
        let inverted = b.op("Sub", [b.floats([1]), f], name: "/mask/Sub")
        // COCO-LM masks with −∞ (a sequence of padding alone gives NaN rows there, zeroed); float32's minimum
        // gives the same probabilities for every sequence with a real token.
        return b.op("Mul", [inverted, b.floats([-Float.greatestFiniteMagnitude])], name: "/mask/Mul")
    }

    /// One post-LN encoder layer.
    mutating func layer(_ x: String, mask: String, prefix p: String, albert: Bool, reuse planned: inout Set<String>) throws -> String {
        let names = albert
            ? (q: p + "attention.query", k: p + "attention.key", v: p + "attention.value", o: p + "attention.dense",
               ln1: p + "attention.LayerNorm", up: p + "ffn", down: p + "ffn_output", ln2: p + "full_layer_layer_norm")
            : (q: p + "attention.self.query", k: p + "attention.self.key", v: p + "attention.self.value",
               o: p + "attention.output.dense", ln1: p + "attention.output.LayerNorm", up: p + "intermediate.dense",
               down: p + "output.dense", ln2: p + "output.LayerNorm")
        let before = b.initializers.count
        let H = hidden
        let path = "/" + p.dropLast().replacing(".", with: "/") + "/attention"
        let outName = architecture == .cocolm ? p + "attention.self_attn.out_proj" : names.o
        let lnName = architecture == .cocolm ? p + "attention.LayerNorm" : names.ln1
        var smoothing: (attention: [Float], output: [Float], up: [Float], down: [Float])?
        if smoothsLayers, let norm = inputNorm {
            smoothing = try layerSmoothing(q: names.q, k: names.k, v: names.v, o: outName, up: names.up, down: names.down, ln1: lnName,
                                           inputNorm: norm)
        }
        let attentionInput = smoothing.map { smoothedInput(x, multipliers: $0.attention, name: p + "attention.self") } ?? x
        var merged = fusesAttention
            ? try fusedAttention(attentionInput, q: names.q, k: names.k, v: names.v, path: path)
            : try standardAttention(attentionInput, mask: mask, q: names.q, k: names.k, v: names.v, prefix: p, path: path)
        if let smoothing { merged = smoothedInput(merged, multipliers: smoothing.output, name: outName) }
        let attended = try linear(merged, outName, inFeatures: H, outFeatures: H)
        let residual = b.op("Add", [attended, x], name: path + "/output/Add")
        let a = try layerNorm(residual, lnName)
        let upInput = smoothing.map { smoothedInput(a, multipliers: $0.up, name: names.up) } ?? a
        let up = try linear(upInput, names.up, inFeatures: H, outFeatures: intermediate)
        var act = try activate(up, activation, path: "/" + names.up.replacing(".", with: "/") + "/act")
        if let smoothing { act = smoothedInput(act, multipliers: smoothing.down, name: names.down) }
        let down = try linear(act, names.down, inFeatures: intermediate, outFeatures: H)
        let out = b.op("Add", [down, a], name: "/" + names.down.replacing(".", with: "/") + "/Add_residual")
        let result = try layerNorm(out, names.ln2)
        inputNorm = names.ln2
        // A shared (ALBERT) layer's weights are initializers once.
        var kept: [ONNXInitializer] = Array(b.initializers[..<before])
        for i in b.initializers[before...] where planned.insert(i.name).inserted { kept.append(i) }
        b.initializers = kept
        return result
    }

    /// Self-attention in standard operators: Q, K, V Linears, heads split by Reshape and Transpose, scaled scores plus
    /// the additive mask, Softmax, the weighted sum, heads merged; `[batch, seq, hidden]`.
    mutating func standardAttention(_ x: String, mask: String, q qName: String, k kName: String, v vName: String, prefix p: String,
                                    path: String) throws -> String {
        let H = hidden, headSize = hidden / heads
        var q: String, k: String, v: String
        if architecture == .cocolm {
            let qkv = try linear(x, p + "attention.self_attn.in_proj", inFeatures: H, outFeatures: 3 * H)
            let parts = b.node("Split", [qkv, b.ints([Int64(H), Int64(H), Int64(H)])], outputs: 3, name: path + "/Split",
                               attributes: [Attribute.int("axis", -1)])
            (q, k, v) = (parts[0], parts[1], parts[2])
        } else {
            q = try linear(x, qName, inFeatures: H, outFeatures: H)
            k = try linear(x, kName, inFeatures: H, outFeatures: H)
            v = try linear(x, vName, inFeatures: H, outFeatures: H)
        }
        let headShape = b.ints([0, 0, Int64(heads), Int64(headSize)])
        let qh = b.op("Transpose", [b.op("Reshape", [q, headShape], name: path + "/q/Reshape")], name: path + "/q/Transpose",
                      Attribute.ints("perm", [0, 2, 1, 3]))
        let kh = b.op("Transpose", [b.op("Reshape", [k, headShape], name: path + "/k/Reshape")], name: path + "/k/Transpose",
                      Attribute.ints("perm", [0, 2, 3, 1]))
        let vh = b.op("Transpose", [b.op("Reshape", [v, headShape], name: path + "/v/Reshape")], name: path + "/v/Transpose",
                      Attribute.ints("perm", [0, 2, 1, 3]))
        var scores = b.op("MatMul", [qh, kh], name: path + "/scores/MatMul")
        scores = b.op("Div", [scores, b.floats([Float(headSize).squareRoot()])], name: path + "/scores/Div")
        if architecture == .cocolm { scores = b.op("Add", [scores, try relativeBias()], name: path + "/scores/AddBias") }
        scores = b.op("Add", [scores, mask], name: path + "/scores/Add")
        // axis 3 (the last of [batch, heads, S, S]): ORT's AttentionFusion asks for it spelled so.
        let probs = b.op("Softmax", [scores], name: path + "/Softmax", Attribute.int("axis", 3))
        let context = b.op("MatMul", [probs, vh], name: path + "/context/MatMul")
        return b.op("Reshape", [b.op("Transpose", [context], name: path + "/context/Transpose", Attribute.ints("perm", [0, 2, 1, 3])),
                                b.ints([0, 0, Int64(H)])], name: path + "/context/Reshape")
    }

    /// Self-attention as ONNX Runtime's fused kernel (`ONNXAttention.onnxRuntime`): one Linear `[3·hidden, hidden]`
    /// whose rows are the query, key and value weights in turn (biases likewise), split into three `[batch, seq,
    /// hidden]` values, then `com.microsoft.MultiHeadAttention` (inputs query, key, value, bias, key_padding_mask;
    /// ORT `docs/ContribOperators.md`) with the mask cast to int32. Scaling by 1/√head_size and masking are the
    /// kernel's; measured against the standard graph with ORT 1.32 the outputs are bit-identical on real tokens.
    mutating func fusedAttention(_ x: String, q: String, k: String, v: String, path: String) throws -> String {
        let H = hidden
        let stacked = String(q.dropLast("query".count)) + "qkv"
        let weights = try [q, k, v].map { try tensor($0 + ".weight") }
        for (name, w) in zip([q, k, v], weights) where w.shape.dimensions != [H, H] {
            throw ONNXError(.cannotExport, "tensor '\(name).weight' has shape \(w.shape), expected [\(H), \(H)]")
        }
        index[stacked + ".weight"] = Self.stackedRows(weights, name: stacked + ".weight")
        let biases = [q, k, v].compactMap { index[$0 + ".bias"] }
        if biases.count == 3 {
            for (name, t) in zip([q, k, v], biases) where t.shape.dimensions != [H] {
                throw ONNXError(.cannotExport, "tensor '\(name).bias' has shape \(t.shape), expected [\(H)]")
            }
            index[stacked + ".bias"] = Self.stackedRows(biases, name: stacked + ".bias")
        } else if !biases.isEmpty {
            throw ONNXError(.cannotExport, "'\(q)' has biases on some of query, key and value only; export with the standard attention")
        }
        let qkv = try linear(x, stacked, inFeatures: H, outFeatures: 3 * H)
        let parts = b.node("Split", [qkv, b.ints([Int64(H), Int64(H), Int64(H)])], outputs: 3, name: path + "/qkv/Split",
                           attributes: [Attribute.int("axis", -1)])
        if keyPaddingMask == nil {
            keyPaddingMask = b.op("Cast", ["attention_mask"], name: "/mask/CastInt32", Attribute.int("to", Int(ONNXElementType.int32.rawValue)))
        }
        b.usesMicrosoft = true
        return b.op("MultiHeadAttention", [parts[0], parts[1], parts[2], "", keyPaddingMask ?? "attention_mask"],
                    name: path + "/MultiHeadAttention", domain: "com.microsoft", Attribute.int("num_heads", heads))
    }

    /// Tensors of one dtype stacked along their first axis, byte for byte (so the stacked initializer is bit-exact to
    /// its sources), read only when the writer pulls it.
    static func stackedRows(_ parts: [Tensor], name: String) -> Tensor {
        let rows = parts.reduce(0) { $0 + $1.shape[0] }
        let dims = [rows] + parts[0].shape.dimensions.dropFirst()
        let sameType = parts.allSatisfy { $0.dtype == parts[0].dtype }
        let dtype = sameType ? parts[0].dtype : .f32
        return Tensor(name: name, dtype: dtype, shape: Shape(dims), data: .producer {
            var bytes: [UInt8] = []
            for t in parts {
                if sameType {
                    try t.withBytes { bytes += $0 }
                } else {
                    guard let values = try t.withBytes({ FloatValues.decode($0, from: t.dtype) }) else {
                        throw ONNXError(.cannotExport, "tensor '\(t.name)' is \(t.dtype.rawValue), which cannot be stacked")
                    }
                    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
                }
            }
            return TensorBuffer(bytes)
        })
    }

    /// COCO-LM's relative-position bias `[1, heads, L, L]`, computed in the graph from the sequence length:
    /// `bucket(j − i) = sign(j − i) · m(|j − i|) + m(P − 1)` with the log-spaced magnitude buckets of
    /// microsoft/COCO-LM's `cocolm/modeling_cocolm.py` (the verifier's `COCOLM.magnitude`), then a Gather of
    /// `relative_attention_bias.weight`.
    mutating func relativeBias() throws -> String {
        if let existing = b.nodes.first(where: { $0.name == "/rel_pos/Transpose" }) { return existing.output[0] }
        guard let bins = config["rel_pos_bins"]?.intValue, let maxDistance = config["max_rel_pos"]?.intValue,
              let positions = config.maxPositionEmbeddings, bins >= 4, maxDistance > 2, positions >= 1 else {
            throw ONNXError(.cannotExport, "COCO-LM config lacks rel_pos_bins / max_rel_pos / max_position_embeddings")
        }
        let half = bins / 2, exact = half / 2, mbv = half - 1 - exact
        let offset = Int64(magnitude(positions - 1, bins: bins, maxDistance: maxDistance))
        let shape = b.op("Shape", ["input_ids"], name: "/rel_pos/Shape")
        let length = b.op("Gather", [shape, b.ints([1], dims: [])], name: "/rel_pos/Gather", Attribute.int("axis", 0))
        let range = b.op("Range", [b.ints([0], dims: []), length, b.ints([1], dims: [])], name: "/rel_pos/Range")
        let row = b.op("Unsqueeze", [range, b.ints([0])], name: "/rel_pos/Unsqueeze")
        let column = b.op("Unsqueeze", [range, b.ints([1])], name: "/rel_pos/Unsqueeze_1")
        let relative = b.op("Sub", [row, column], name: "/rel_pos/Sub")  // j − i, [L, L]
        let sign = b.op("Sign", [relative], name: "/rel_pos/Sign")
        let n = b.op("Abs", [relative], name: "/rel_pos/Abs")
        let nf = b.op("Cast", [n], name: "/rel_pos/Cast", Attribute.int("to", Int(ONNXElementType.float.rawValue)))
        // exact + ceil(log(n / exact) / log((maxDistance − 1) / exact) · mbv), capped at half − 1; n < exact stays n.
        let clamped = b.op("Max", [nf, b.floats([1])], name: "/rel_pos/Max")
        let logRatio = b.op("Log", [b.op("Div", [clamped, b.floats([Float(exact)])], name: "/rel_pos/Div")], name: "/rel_pos/Log")
        let scale = Float(Double(mbv) / log(Double(maxDistance - 1) / Double(exact)))
        let ceil = b.op("Ceil", [b.op("Mul", [logRatio, b.floats([scale])], name: "/rel_pos/Mul")], name: "/rel_pos/Ceil")
        let large = b.op("Min", [b.op("Add", [ceil, b.floats([Float(exact)])], name: "/rel_pos/Add"), b.floats([Float(half - 1)])],
                         name: "/rel_pos/Min")
        let small = b.op("Less", [nf, b.floats([Float(exact)])], name: "/rel_pos/Less")
        let m = b.op("Where", [small, nf, large], name: "/rel_pos/Where")
        let mi = b.op("Cast", [m], name: "/rel_pos/Cast_1", Attribute.int("to", Int(ONNXElementType.int64.rawValue)))
        let bucket = b.op("Add", [b.op("Mul", [sign, mi], name: "/rel_pos/Mul_1"), b.ints([offset], dims: [])], name: "/rel_pos/Add_1")
        let table = try storedWeight(prefix + "relative_attention_bias.weight", transposed: false)
        let gathered = b.op("Gather", [table, bucket], name: "/rel_pos/Gather_1")  // [L, L, heads]
        let bias = b.op("Transpose", [gathered], name: "/rel_pos/Transpose", Attribute.ints("perm", [2, 0, 1]))
        return bias
    }

    func magnitude(_ n: Int, bins: Int, maxDistance: Int) -> Int {
        let half = bins / 2, exact = half / 2, mbv = half - 1 - exact
        if n < exact { return n }
        let ratio = log(Double(n) / Double(exact)) / log(Double(maxDistance - 1) / Double(exact))
        return min(exact + Int((ratio * Double(mbv)).rounded(.up)), half - 1)
    }

    // MARK: - Heads

    /// The pooler and the task's outputs, under optimum's names.
    mutating func heads(last: String) throws {
        var task = model.task
        task.head = ONNXExporter.head(of: model)
        let poolerName = architecture == .albert ? prefix + "pooler" : prefix + "pooler.dense"
        var pooled: String?
        if has(poolerName + ".weight"), task.head.hasPooler, architecture != .cocolm {
            let first = b.op("Gather", [last, b.ints([0], dims: [])], name: "/pooler/Gather", Attribute.int("axis", 1))
            let dense = try linear(first, poolerName, inFeatures: hidden, outFeatures: hidden)
            pooled = b.op("Tanh", [dense], name: "/pooler/Tanh")
        }
        let batch: GraphBuilder.Dimension = .symbol("batch_size"), sequence: GraphBuilder.Dimension = .symbol("sequence_length")
        func outputs(of name: String) -> Int? { index[name + ".weight"].flatMap { $0.shape.rank == 2 ? $0.shape[0] : nil } }
        switch task.head {
        case .encoder:
            if let pooled {
                rename(pooled, to: "pooler_output")
                b.output("pooler_output", type: .float, dims: [batch, .fixed(hidden)])
            }
        case .maskedLM, .preTraining:
            // optimum's fill-mask export (ORTModelForMaskedLM) reads `logits`; transformers' *ForPreTraining outputs
            // name the same scores `prediction_logits`, beside `seq_relationship_logits` (ALBERT: `sop_logits`).
            let preTraining = task.head == .preTraining
            if let vocabulary = try maskedLMHead(last: last, output: preTraining ? "prediction_logits" : "logits") {
                b.output(preTraining ? "prediction_logits" : "logits", type: .float, dims: [batch, sequence, .fixed(vocabulary)])
            }
            if let pooled {
                rename(pooled, to: "pooler_output")
                b.output("pooler_output", type: .float, dims: [batch, .fixed(hidden)])
                let albert = architecture == .albert
                let name = albert ? "sop_classifier.classifier" : "cls.seq_relationship"
                if preTraining, let n = outputs(of: name) {
                    let logits = try linear("pooler_output", name, inFeatures: hidden, outFeatures: n)
                    let output = albert ? "sop_logits" : "seq_relationship_logits"
                    rename(logits, to: output)
                    b.output(output, type: .float, dims: [batch, .fixed(n)])
                }
            }
        case .sequenceClassification, .reranker:
            if has("classifier.out_proj.weight") {
                // RobertaClassificationHead: dense → tanh → out_proj on <s>.
                let first = b.op("Gather", [last, b.ints([0], dims: [])], name: "/classifier/Gather", Attribute.int("axis", 1))
                let width = outputs(of: "classifier.dense") ?? hidden
                let dense = try linear(first, "classifier.dense", inFeatures: hidden, outFeatures: width)
                let tanh = b.op("Tanh", [dense], name: "/classifier/Tanh")
                guard let n = outputs(of: "classifier.out_proj") else { throw ONNXError(.cannotExport, "classifier.out_proj.weight is not a matrix") }
                let logits = try linear(tanh, "classifier.out_proj", inFeatures: width, outFeatures: n)
                rename(logits, to: "logits")
                b.output("logits", type: .float, dims: [batch, .fixed(n)])
            } else {
                guard let pooled else { throw ONNXError(.cannotExport, "a sequence classifier needs the pooler tensors") }
                guard let n = outputs(of: "classifier") else { throw ONNXError(.cannotExport, "classifier.weight is missing or not a matrix") }
                let logits = try linear(pooled, "classifier", inFeatures: hidden, outFeatures: n)
                rename(logits, to: "logits")
                b.output("logits", type: .float, dims: [batch, .fixed(n)])
            }
        case .tokenClassification:
            guard let n = outputs(of: "classifier") else { throw ONNXError(.cannotExport, "classifier.weight is missing or not a matrix") }
            let logits = try linear(last, "classifier", inFeatures: hidden, outFeatures: n)
            rename(logits, to: "logits")
            b.output("logits", type: .float, dims: [batch, sequence, .fixed(n)])
        case .questionAnswering:
            guard outputs(of: "qa_outputs") == 2 else { throw ONNXError(.cannotExport, "qa_outputs must have 2 outputs (start, end)") }
            let both = try linear(last, "qa_outputs", inFeatures: hidden, outFeatures: 2)
            let parts = b.node("Split", [both, b.ints([1, 1])], outputs: 2, name: "/qa_outputs/Split", attributes: [Attribute.int("axis", -1)])
            _ = b.node("Squeeze", [parts[0], b.ints([-1])], name: "/qa_outputs/Squeeze")
            b.nodes[b.nodes.count - 1].output = ["start_logits"]
            _ = b.node("Squeeze", [parts[1], b.ints([-1])], name: "/qa_outputs/Squeeze_1")
            b.nodes[b.nodes.count - 1].output = ["end_logits"]
            b.output("start_logits", type: .float, dims: [batch, sequence])
            b.output("end_logits", type: .float, dims: [batch, sequence])
        case .sentenceEmbedding:
            guard let pipeline = model.pipeline else { break }
            var embedding: String
            switch pipeline.pooling {
            case .cls:
                embedding = b.op("Gather", [last, b.ints([0], dims: [])], name: "/pooling/Gather", Attribute.int("axis", 1))
            case .mean:
                let m = maskFloat(unsqueezeLast: true)
                let summed = b.op("ReduceSum", [b.op("Mul", [last, m], name: "/pooling/Mul"), b.ints([1])], name: "/pooling/ReduceSum",
                                  Attribute.int("keepdims", 0))
                let count = b.op("ReduceSum", [m, b.ints([1])], name: "/pooling/ReduceSum_1", Attribute.int("keepdims", 0))
                let clipped = b.op("Max", [count, b.floats([1e-9])], name: "/pooling/Max")
                embedding = b.op("Div", [summed, clipped], name: "/pooling/Div")
            case .max:
                let m = maskFloat(unsqueezeLast: true)
                let padding = b.op("Mul", [b.op("Sub", [b.floats([1]), m], name: "/pooling/Sub"), b.floats([-Float.greatestFiniteMagnitude])],
                                   name: "/pooling/Mul")
                embedding = b.op("ReduceMax", [b.op("Add", [last, padding], name: "/pooling/Add")], name: "/pooling/ReduceMax",
                                 Attribute.ints("axes", [1]), Attribute.int("keepdims", 0))
            case .lastToken:
                // The last real token: index sum(mask) − 1 per row.
                let count = b.op("ReduceSum", ["attention_mask", b.ints([1])], name: "/pooling/ReduceSum", Attribute.int("keepdims", 1))
                let position = b.op("Sub", [count, b.ints([1], dims: [])], name: "/pooling/Sub")
                let index3 = b.op("Unsqueeze", [position, b.ints([-1])], name: "/pooling/Unsqueeze")
                let expanded = b.op("Expand", [index3, b.ints([1, 1, Int64(hidden)])], name: "/pooling/Expand")
                let gathered = b.op("GatherElements", [last, expanded], name: "/pooling/GatherElements", Attribute.int("axis", 1))
                embedding = b.op("Squeeze", [gathered, b.ints([1])], name: "/pooling/Squeeze")
            }
            var width = hidden
            for (i, layer) in pipeline.dense.enumerated() {
                guard layer.weight.shape.rank == 2, layer.weight.shape[1] == width else {
                    throw ONNXError(.cannotExport, "Dense module \(i + 1) does not take width \(width)")
                }
                let name = "\(i + 2)_Dense.linear"
                var t = layer.weight
                t.name = name + ".weight"
                index[t.name] = t
                if var bias = layer.bias { bias.name = name + ".bias"; index[bias.name] = bias }
                embedding = try linear(embedding, name, inFeatures: width, outFeatures: layer.weight.shape[0])
                width = layer.weight.shape[0]
                switch layer.activation.split(separator: ".").last.map(String.init) ?? layer.activation {
                case "Identity": break
                case "Tanh": embedding = b.op("Tanh", [embedding], name: "/\(i + 2)_Dense/Tanh")
                case "ReLU": embedding = b.op("Relu", [embedding], name: "/\(i + 2)_Dense/Relu")
                case "Sigmoid": embedding = b.op("Sigmoid", [embedding], name: "/\(i + 2)_Dense/Sigmoid")
                case "GELU": embedding = try activate(embedding, "gelu", path: "/\(i + 2)_Dense/act")
                default: throw ONNXError(.cannotExport, "Dense activation '\(layer.activation)' has no ONNX graph here")
                }
            }
            if pipeline.normalize {
                let norm = b.op("ReduceL2", [embedding], name: "/normalize/ReduceL2", Attribute.ints("axes", [-1]), Attribute.int("keepdims", 1))
                let clipped = b.op("Max", [norm, b.floats([1e-12])], name: "/normalize/Max")
                embedding = b.op("Div", [embedding, clipped], name: "/normalize/Div")
            }
            rename(embedding, to: "sentence_embedding")
            b.output("sentence_embedding", type: .float, dims: [batch, .fixed(width)])
        }
    }
}

extension EncoderGraph {
    /// The masked-LM head on every token, as transformers computes it: dense → activation → LayerNorm → decoder + bias
    /// (`BertLMPredictionHead` under `cls.predictions.`, `AlbertMLMHead` under `predictions.`, `RobertaLMHead` under
    /// `lm_head.` with exact GELU). The decoder is the word-embedding table (`tie_word_embeddings`, true unless the
    /// config says otherwise): the graph multiplies by the table's own initializer, stored once. Returns the vocabulary size,
    /// or nil when the model has no head transform (the graph then has no masked-LM output).
    mutating func maskedLMHead(last: String, output: String) throws -> Int? {
        let (p, transform, norm, act): (String, String, String, String)
        if architecture == .albert {
            (p, transform, norm, act) = ("predictions.", "predictions.dense", "predictions.LayerNorm", activation)
        } else if has("lm_head.dense.weight") {
            (p, transform, norm, act) = ("lm_head.", "lm_head.dense", "lm_head.layer_norm", "gelu")
        } else {
            (p, transform, norm, act) = ("cls.predictions.", "cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", activation)
        }
        guard let dense = index[transform + ".weight"] else { return nil }
        guard dense.shape.rank == 2, dense.shape[1] == hidden else {
            throw ONNXError(.cannotExport, "the masked-LM head needs '\(transform).weight' taking the hidden size \(hidden)")
        }
        let width = dense.shape[0]
        let path = "/" + p.dropLast().replacing(".", with: "/")
        var x = try linear(last, transform, inFeatures: hidden, outFeatures: width)
        x = try activate(x, act, path: path + "/act")
        x = try layerNorm(x, norm)
        let words = prefix + "embeddings.word_embeddings.weight"
        let tied = config["tie_word_embeddings"]?.boolValue ?? true
        let table: String
        let vocabulary: Int
        if tied || !has(p + "decoder.weight") {
            let t = try tensor(words)
            guard t.shape.rank == 2, t.shape[1] == width else {
                throw ONNXError(.cannotExport, "the word embeddings \(t.shape) do not match the masked-LM head's width \(width)")
            }
            vocabulary = t.shape[0]
            table = try wordTable(words, path: path)
        } else {
            let t = try tensor(p + "decoder.weight")
            guard t.shape.rank == 2, t.shape[1] == width else {
                throw ONNXError(.cannotExport, "'\(p)decoder.weight' has shape \(t.shape), expected [vocabulary, \(width)]")
            }
            vocabulary = t.shape[0]
            table = try storedWeight(p + "decoder.weight", transposed: false)
        }
        // [vocabulary, width] → [width, vocabulary]: a Transpose of a constant, which ORT folds when it loads the model.
        let transposed = b.op("Transpose", [table], name: path + "/decoder/Transpose", Attribute.ints("perm", [1, 0]))
        var logits = b.op("MatMul", [x, transposed], name: path + "/decoder/MatMul")
        let biasName = has(p + "bias") ? p + "bias" : has(p + "decoder.bias") ? p + "decoder.bias" : nil
        if let biasName {
            let bias = b.initializers.contains { $0.name == biasName } ? biasName : try weight(biasName, shape: [vocabulary])
            logits = b.op("Add", [logits, bias], name: path + "/decoder/Add")
        }
        rename(logits, to: output)
        return vocabulary
    }

    /// The word-embedding table as fp32 values, from the initializer the embeddings already use: fp32 itself, fp16
    /// through its Cast, int8 rows times their scales.
    mutating func wordTable(_ name: String, path: String) throws -> String {
        switch options.precision {
        case .fp32:
            if b.initializers.contains(where: { $0.name == name }) { return name }
            return try weight(name)
        case .fp16:
            if let cast = b.nodes.first(where: { $0.name == "/" + name + "/Cast" }) { return cast.output[0] }
            return try storedWeight(name, transposed: false)
        case .int8:
            guard b.initializers.contains(where: { $0.name == name + "_quantized" }) else {
                throw ONNXError(.cannotExport, "the int8 word embeddings are not planned before the masked-LM head")
            }
            let rows = b.op("Cast", [name + "_quantized"], name: path + "/decoder/Cast", Attribute.int("to", Int(ONNXElementType.float.rawValue)))
            let scales = b.op("Unsqueeze", [name + "_scale", b.ints([1])], name: path + "/decoder/Unsqueeze")
            return b.op("Mul", [rows, scales], name: path + "/decoder/Mul")
        }
    }
}
