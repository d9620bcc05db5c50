import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelIR

/// ONNX element types (`TensorProto.DataType` in `Schemas/onnx.proto`) for the IR's types.
public enum ONNXElementType: Int32, Sendable {
    case float = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, float16 = 10, double = 11, bfloat16 = 16

    /// The ONNX type of an IR dtype, when ONNX has one that ModelPort writes.
    public init?(_ dtype: DType) {
        switch dtype {
        case .f32: self = .float
        case .f16: self = .float16
        case .bf16: self = .bfloat16
        case .f64: self = .double
        case .i8: self = .int8
        case .u8: self = .uint8
        case .i32: self = .int32
        case .i64: self = .int64
        default: return nil
        }
    }

    /// The IR dtype of this ONNX type.
    public var dtype: DType {
        switch self {
        case .float: return .f32
        case .uint8: return .u8
        case .int8: return .i8
        case .int32: return .i32
        case .int64: return .i64
        case .float16: return .f16
        case .double: return .f64
        case .bfloat16: return .bf16
        }
    }
}

/// One initializer of a planned graph: its name, type and dims, and where its bytes come from (a source tensor,
/// often through a lazy transpose, cast or quantization), pulled only when the writer streams it.
public struct ONNXInitializer: Sendable {
    public var name: String
    public var type: ONNXElementType
    public var dims: [Int]
    public var data: TensorData

    /// The byte count the dims and type give (`nil` on overflow).
    public var byteCount: Int? {
        var count = type.dtype.blockBytes
        for d in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, d >= 0 else { return nil }
            count = product
        }
        return count
    }
}

/// A graph being planned: nodes with unique names and initializers whose bytes are not read yet.
struct GraphBuilder {
    var nodes: [Onnx_NodeProto] = []
    var initializers: [ONNXInitializer] = []
    var inputs: [Onnx_ValueInfoProto] = []
    var outputs: [Onnx_ValueInfoProto] = []
    /// Whether a node of ONNX Runtime's `com.microsoft` domain was added.
    var usesMicrosoft = false
    private var counter = 0
    /// Node names used so far: a layer applied twice (ALBERT's shared group) gets `__1`, `__2`… from its second use.
    private var used: [String: Int] = [:]
    private var constants: [String: String] = [:]

    /// A fresh value name with `hint` in it.
    mutating func fresh(_ hint: String) -> String {
        counter += 1
        return "/\(hint)_\(counter)"
    }

    /// Adds a node and returns its output names.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], outputs count: Int = 1, name: String? = nil,
                       domain: String = "", attributes: [Onnx_AttributeProto] = []) -> [String] {
        var node = Onnx_NodeProto()
        node.opType = op
        var unique = name ?? fresh(op)
        if let n = used[unique] {
            used[unique] = n + 1
            unique += "__\(n + 1)"
        } else {
            used[unique] = 0
        }
        node.name = unique
        node.input = inputs
        node.output = (0..<count).map { count == 1 ? node.name + "_output" : node.name + "_output_\($0)" }
        if !domain.isEmpty { node.domain = domain }
        node.attribute = attributes
        nodes.append(node)
        return node.output
    }

    /// Adds a single-output node.
    mutating func op(_ op: String, _ inputs: [String], name: String? = nil, domain: String = "",
                     _ attributes: Onnx_AttributeProto...) -> String {
        node(op, inputs, name: name, domain: domain, attributes: attributes)[0]
    }

    /// A small constant initializer (shared when asked for twice).
    mutating func ints(_ values: [Int64], dims: [Int]? = nil) -> String {
        let key = "i64:\(values):\(dims ?? [-1])"
        if let name = constants[key] { return name }
        var bytes: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        let name = "/const_i64_\(constants.count)"
        initializers.append(ONNXInitializer(name: name, type: .int64, dims: dims ?? [values.count], data: .owned(TensorBuffer(bytes))))
        constants[key] = name
        return name
    }

    /// A small float constant (a scalar when `dims` is empty), in `type` (float or float16).
    mutating func floats(_ values: [Float], dims: [Int] = [], type: ONNXElementType = .float) -> String {
        let key = "f\(type.rawValue):\(values.map(\.bitPattern)):\(dims)"
        if let name = constants[key] { return name }
        var bytes: [UInt8] = []
        for v in values {
            if type == .float16 {
                withUnsafeBytes(of: FloatBits.halfBits(fromFloatBits: v.bitPattern).littleEndian) { bytes += $0 }
            } else {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
            }
        }
        let name = "/const_f\(type.rawValue)_\(constants.count)"
        initializers.append(ONNXInitializer(name: name, type: type, dims: dims, data: .owned(TensorBuffer(bytes))))
        constants[key] = name
        return name
    }

    mutating func input(_ name: String, type: ONNXElementType, dims: [Dimension]) {
        inputs.append(Self.valueInfo(name, type: type, dims: dims))
    }

    mutating func output(_ name: String, type: ONNXElementType, dims: [Dimension]) {
        outputs.append(Self.valueInfo(name, type: type, dims: dims))
    }

    /// A graph dimension: a fixed size or a symbolic name (`batch_size`).
    enum Dimension {
        case fixed(Int)
        case symbol(String)
    }

    static func valueInfo(_ name: String, type: ONNXElementType, dims: [Dimension]) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = type.rawValue
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch d {
            case .fixed(let n): dim.dimValue = Int64(n)
            case .symbol(let s): dim.dimParam = s
            }
            return dim
        }
        tensor.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        info.type = type
        return info
    }
}

/// Attribute constructors.
enum Attribute {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }

    static func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .string
        a.s = Data(value.utf8)
        return a
    }
}
