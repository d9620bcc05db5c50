import ModelIR

extension Tensorflow_DataType {
    /// The IR type for the numeric types ModelPort carries; `nil` for strings, variants, resources, complex
    /// and quantized-integer types, which are listed but not converted.
    var dtype: DType? {
        switch self {
        case .dtFloat: return .f32
        case .dtDouble: return .f64
        case .dtInt32: return .i32
        case .dtUint8: return .u8
        case .dtInt16: return .i16
        case .dtInt8: return .i8
        case .dtInt64: return .i64
        case .dtBool: return .bool
        case .dtBfloat16: return .bf16
        case .dtUint16: return .u16
        case .dtHalf: return .f16
        case .dtUint32: return .u32
        case .dtUint64: return .u64
        case .dtFloat8E5M2: return .f8E5M2
        case .dtFloat8E4M3Fn: return .f8E4M3
        default: return nil
        }
    }

    /// The name TensorFlow gives the type (`DT_STRING`), for messages.
    var tfName: String {
        switch self {
        case .UNRECOGNIZED(let value): return "DataType \(value)"
        default: return "DT_" + String(describing: self).dropFirst(2).uppercased()
        }
    }
}
