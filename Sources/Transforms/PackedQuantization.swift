import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import ModelIR
import Quantization

/// Quantization schemes that store a weight as several safetensors tensors (codes plus scales), for Hugging Face
/// and safetensors outputs: `int8` (compressed-tensors, per channel) and `mlx4` / `mlx8` (MLX affine groups).
public enum PackedScheme: Sendable, Equatable {
    /// int8 `p.weight` + f32 `p.weight_scale` `[out, 1]` for every Linear weight (compressed-tensors `int-quantized`).
    case int8PerChannel
    /// u32 `p.weight` + `p.scales` + `p.biases` for every Linear and Embedding weight whose rows are whole groups.
    case mlxAffine(bits: Int, groupSize: Int)

    /// `int8`, `mlx4`, `mlx8` (as `--dtype` spells them); `groupSize` applies to MLX.
    public init?(name: String, groupSize: Int = 64) {
        switch name.lowercased() {
        case "int8", "int8-channel": self = .int8PerChannel
        case "mlx4": self = .mlxAffine(bits: 4, groupSize: groupSize)
        case "mlx8": self = .mlxAffine(bits: 8, groupSize: groupSize)
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .int8PerChannel: return "int8"
        case .mlxAffine(let bits, let groupSize): return "mlx\(bits) (groups of \(groupSize))"
        }
    }
}

extension ModelConfig {
    /// How the weights of a quantized Hugging Face folder are stored, in words (nil for plain float weights):
    /// compressed-tensors' `quantization_config` or MLX's `quantization`.
    public var packedQuantizationDescription: String? {
        if let config = self["quantization_config"], config["quant_method"]?.stringValue == "compressed-tensors" {
            let format = config["format"]?.stringValue ?? "?"
            if let weights = config["config_groups"]?.objectValue?.first?.value["weights"] {
                let bits = weights["num_bits"]?.intValue.map { "int\($0)" } ?? "int"
                let strategy = weights["strategy"]?.stringValue ?? "?"
                let symmetric = weights["symmetric"]?.boolValue == true ? "symmetric" : "asymmetric"
                return "\(bits) \(symmetric) per \(strategy) (compressed-tensors \(format))"
            }
            return "compressed-tensors \(format)"
        }
        let mlx = self["quantization"] ?? (self["quantization_config"]?["quant_method"] == nil ? self["quantization_config"] : nil)
        if let mlx, let bits = mlx["bits"]?.intValue {
            return "MLX \(mlx["mode"]?.stringValue ?? "affine") \(bits)-bit, groups of \(mlx["group_size"]?.intValue ?? 64)"
        }
        return nil
    }
}

extension Model {
    /// Whether `tensor` is the weight of a Linear layer (a matrix named `.weight` that is not an embedding table or
    /// a norm), as compressed-tensors' `targets: ["Linear"]` selects.
    static func isLinearWeight(_ tensor: Tensor) -> Bool { TensorNames.isLinearWeight(tensor) }

    /// Task-head modules (Hugging Face names) that packed quantization leaves in their float type.
    static let headModules = ["classifier", "qa_outputs", "cls.seq_relationship", "sop_classifier.classifier"]

    static func isNorm(_ name: String) -> Bool { TensorNames.isNorm(name) }

    /// The model with its weights quantized by `scheme`, lazily: each chosen `p.weight` becomes the scheme's
    /// tensors (computed when written), `config.json` gets the matching `quantization_config`. Other tensors keep
    /// their type; block-quantized sources are expanded first.
    public func quantizingPacked(_ scheme: PackedScheme) throws -> Model {
        var result = try dequantizingBlocks()
        var tensors: [Tensor] = []
        var quantized = 0
        var keptHeads: [String] = []
        for tensor in result.tensors {
            // Task heads stay in their float type: a few thousand weights that decide every output.
            if let head = Self.headModules.first(where: { tensor.name.hasPrefix($0 + ".") }) {
                if !keptHeads.contains(head) { keptHeads.append(head) }
                tensors.append(tensor)
                continue
            }
            let floating = tensor.dtype.isFloatingPoint && !tensor.dtype.isQuantized
            switch scheme {
            case .int8PerChannel where floating && Self.isLinearWeight(tensor):
                let rows = tensor.shape.dimensions[0]
                let source = tensor
                // The scales are computed on their own (one more read of the weight) rather than shared with the
                // codes: writers order tensors by type, so all scales may be pulled before any codes, and sharing
                // would hold every weight's codes in memory until then.
                tensors.append(Tensor(name: tensor.name, dtype: .i8, shape: tensor.shape, data: .producer {
                    try Self.withF32Bytes(source, quantizingTo: "int8") { try Int8PerChannel.quantize($0, rows: rows) }.codes
                }))
                let base = String(tensor.name.dropLast(".weight".count))
                tensors.append(Tensor(name: base + ".weight_scale", dtype: .f32, shape: [rows, 1], data: .producer {
                    FloatValues.buffer(try Self.withF32Bytes(source, quantizingTo: "int8") { try Int8PerChannel.checkedScales($0, rows: rows) })
                }))
                quantized += 1
            case .mlxAffine(let bits, let groupSize) where floating && tensor.shape.rank == 2 && tensor.name.hasSuffix(".weight")
                && !Self.isNorm(tensor.name) && tensor.shape.dimensions[1] % groupSize == 0:
                let (rows, columns) = (tensor.shape.dimensions[0], tensor.shape.dimensions[1])
                let source = tensor
                // Scales and biases keep the weight's float type (f32 stays f32), as mlx.core.quantize returns them.
                let sideType: DType = source.dtype == .f16 || source.dtype == .bf16 ? source.dtype : .f32
                // The codes are computed on their own (their scales and biases again, one more read of the weight)
                // rather than shared with the scales and biases: writers order tensors by type, so every weight's
                // codes may be pulled before any scales, and sharing would hold every weight's codes until then. The
                // scales and biases (1/32 of the weight's size, f32) are shared, each pair computed once.
                let base = String(tensor.name.dropLast(".weight".count))
                tensors.append(Tensor(name: tensor.name, dtype: .u32, shape: [rows, columns * bits / 32], data: .producer {
                    try Self.withF32Bytes(source, quantizingTo: "mlx\(bits)") { try MLXAffine.quantize($0, groupSize: groupSize, bits: bits).packed }
                }))
                let shared = SharedResult(consumers: 2) {
                    try Self.withF32Bytes(source, quantizingTo: "mlx\(bits)") { try MLXAffine.groupParameters($0, groupSize: groupSize, bits: bits) }
                }
                for (suffix, pick) in [("scales", 0), ("biases", 1)] {
                    tensors.append(Tensor(name: base + "." + suffix, dtype: sideType, shape: [rows, columns / groupSize], data: .producer {
                        let result = try shared.take()
                        let values = FloatValues.buffer(pick == 0 ? result.scales : result.biases)
                        return sideType == .f32 ? values : values.withBytes { FloatCast.convert($0, from: .f32, to: sideType) }
                    }))
                }
                quantized += 1
            default:
                tensors.append(tensor)
            }
        }
        guard quantized > 0 else { throw ModelError(kind: .invalidRequest, "\(scheme.name): no weight in this model can be quantized that way") }
        result.tensors = tensors
        switch scheme {
        case .int8PerChannel:
            var config = Self.compressedTensorsConfig
            if case .object(var members) = config, let i = members.firstIndex(where: { $0.key == "ignore" }) {
                members[i].value = .array(keptHeads.map(JSON.string))  // module names compressed-tensors leaves alone
                config = .object(members)
            }
            result.config["quantization_config"] = config
        case .mlxAffine(let bits, let groupSize):
            let settings = JSON.object([("group_size", .integer(groupSize)), ("bits", .integer(bits)), ("mode", .string("affine"))])
            result.config["quantization"] = settings
            result.config["quantization_config"] = settings
        }
        result.notes.append(Note(.info, "quantized \(quantized) weights as \(scheme.name)"
            + (keptHeads.isEmpty ? "" : "; the head (\(keptHeads.joined(separator: ", "))) keeps its float type")))
        return result
    }

    /// Runs the quantizer `body` on the tensor's values as little-endian f32 bytes (converted only when stored
    /// otherwise); a non-finite value it refuses becomes an error naming the tensor and `target`.
    static func withF32Bytes<R>(
        _ tensor: Tensor, quantizingTo target: String, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        do {
            return try tensor.withBytes { bytes in
                tensor.dtype == .f32 ? try body(bytes) : try FloatCast.convert(bytes, from: tensor.dtype, to: .f32).withBytes { try body($0) }
            }
        } catch let bad as NonFiniteValue {
            throw bad.error(tensor: tensor.name, target: target)
        }
    }

    /// The `quantization_config` compressed-tensors 0.20 writes for int8 per-channel weights (`int-quantized`).
    static let compressedTensorsConfig = JSON.object([
        ("config_groups", .object([("group_0", .object([
            ("format", .string("int-quantized")), ("input_activations", .null), ("output_activations", .null),
            ("targets", .array([.string("Linear")])),
            ("weights", .object([
                ("dynamic", .bool(false)), ("group_size", .null), ("num_bits", .integer(8)), ("strategy", .string("channel")),
                ("symmetric", .bool(true)), ("type", .string("int")),
            ])),
        ]))])),
        ("format", .string("int-quantized")), ("global_compression_ratio", .null), ("ignore", .array([])),
        ("kv_cache_scheme", .null), ("moe_sparsity_config", .null), ("quant_method", .string("compressed-tensors")),
        ("quantization_status", .string("compressed")), ("sparsity_config", .object([])), ("transform_config", .object([])),
        ("version", .string("0.20.0")),
    ])

    /// The model with packed weights (compressed-tensors int8 + `weight_scale`, MLX u32 + `scales` + `biases`)
    /// expanded back to float weights, lazily, and their `quantization_config` removed: what a reader of the
    /// original layout (and the verifier) needs. Models without packed weights come back unchanged.
    public func dequantizingPacked() throws -> Model {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let mlx = config["quantization"] ?? (config["quantization_config"]?["quant_method"] == nil ? config["quantization_config"] : nil)
        var consumed = Set<String>()
        var result = self
        var expanded = 0
        var tensors: [Tensor] = []
        for tensor in self.tensors where !consumed.contains(tensor.name) {
            guard tensor.name.hasSuffix(".weight"), tensor.shape.rank == 2 else {
                tensors.append(tensor)
                continue
            }
            let base = String(tensor.name.dropLast(".weight".count))
            if tensor.dtype == .i8, let scale = byName[base + ".weight_scale"] {
                let rows = tensor.shape.dimensions[0]
                guard scale.info.elementCount == rows, scale.dtype.isFloatingPoint, !scale.dtype.isQuantized else {
                    throw ModelError(location: .tensor(scale.name), "expected one float scale per row of \(tensor.name) (\(rows)), found shape \(scale.shape)")
                }
                let codes = tensor
                tensors.append(Tensor(name: tensor.name, dtype: .f32, shape: tensor.shape, data: .producer {
                    let scales = try Self.floats(scale)
                    return try codes.withBytes { Int8PerChannel.dequantize($0, scales: scales) }
                }))
                consumed.insert(scale.name)
                expanded += 1
            } else if tensor.dtype == .u32, let scales = byName[base + ".scales"], let biases = byName[base + ".biases"] {
                guard let groupSize = mlx?["group_size"]?.intValue, MLXAffine.groupSizes.contains(groupSize),
                      let bits = mlx?["bits"]?.intValue, MLXAffine.bitWidths.contains(bits) else {
                    throw ModelError(location: .tensor(tensor.name), "MLX-quantized weight without a supported \"quantization\" (group_size 32/64/128, bits 4/8) in config.json")
                }
                let rows = tensor.shape.dimensions[0], columns = tensor.shape.dimensions[1] * 32 / bits
                guard scales.shape == [rows, columns / groupSize], biases.shape == scales.shape,
                      scales.dtype.isFloatingPoint, biases.dtype.isFloatingPoint, !scales.dtype.isQuantized, !biases.dtype.isQuantized else {
                    throw ModelError(location: .tensor(scales.name), "scales/biases of shape \(scales.shape)/\(biases.shape) do not fit \(tensor.name) (\(rows) × \(columns), groups of \(groupSize))")
                }
                let packed = tensor
                tensors.append(Tensor(name: tensor.name, dtype: .f32, shape: [rows, columns], data: .producer {
                    let s = try Self.floats(scales), b = try Self.floats(biases)
                    return try packed.withBytes { MLXAffine.dequantize($0, scales: s, biases: b, groupSize: groupSize, bits: bits) }
                }))
                consumed.formUnion([scales.name, biases.name])
                expanded += 1
            } else {
                tensors.append(tensor)
            }
        }
        guard expanded > 0 else { return self }
        result.tensors = tensors.filter { !consumed.contains($0.name) }
        result.config["quantization_config"] = nil
        result.config["quantization"] = nil
        result.notes.append("expanded \(expanded) packed-quantized weights to f32")
        return result
    }

    static func floats(_ tensor: Tensor) throws -> [Float] {
        guard let values = try tensor.withBytes({ FloatValues.decode($0, from: tensor.dtype) }) else {
            throw ModelError(location: .tensor(tensor.name), "\(tensor.dtype.rawValue) is not a float type")
        }
        return values
    }
}

/// A value several lazy tensors are cut from (a weight's codes, scales and biases): computed by the first of them to
/// be pulled, handed to the others, and dropped after the last, so it is neither computed again nor kept.
/// Pulled again later (a second reader), it is simply computed again.
final class SharedResult<Value>: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private let make: () throws -> Value
    private let consumers: Int
    private var value: Value?
    private var taken = 0

    init(consumers: Int, _ make: @escaping @Sendable () throws -> Value) {
        self.consumers = consumers
        self.make = make
    }

    func take() throws -> Value {
        try lock.withLock { _ in
            let result = try value ?? make()
            taken += 1
            value = taken % consumers == 0 ? nil : result
            return result
        }
    }
}
