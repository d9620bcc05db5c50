/// The element types a tensor can have, across every format ModelPort reads or writes.
///
/// Raw values are the spellings the CLI uses (`--dtype q8_0`). Block-quantized types (GGUF's, see
/// ggml's `docs/gguf.md`) store `blockSize` elements in `blockBytes` bytes; plain types have a
/// block of one element.
public enum DType: String, CaseIterable, Sendable, Codable {
    case bool
    case u8, i8, u16, i16, u32, i32, u64, i64
    case f16, bf16, f32, f64
    /// 8-bit floats (OCP e4m3fn and e5m2), carried through but not computed on.
    case f8E4M3 = "f8_e4m3"
    case f8E5M2 = "f8_e5m2"
    case q8_0, q4_0, q4_1, q5_0, q5_1
    case q4_K = "q4_k"
    case q5_K = "q5_k"
    case q6_K = "q6_k"

    /// Elements per block: 1 for plain types, 32 for the legacy GGUF quants, 256 for the K-quants.
    public var blockSize: Int {
        switch self {
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1: return 32
        case .q4_K, .q5_K, .q6_K: return 256
        default: return 1
        }
    }

    /// Bytes per block (for plain types, the element size).
    public var blockBytes: Int {
        switch self {
        case .bool, .u8, .i8, .f8E4M3, .f8E5M2: return 1
        case .u16, .i16, .f16, .bf16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        case .q8_0: return 34     // f16 scale + 32 × i8
        case .q4_0: return 18     // f16 scale + 16 bytes of nibbles
        case .q4_1: return 20     // f16 scale + f16 min + 16 bytes
        case .q5_0: return 22     // f16 scale + 4 bytes high bits + 16 bytes
        case .q5_1: return 24     // f16 scale + f16 min + 4 + 16
        case .q4_K: return 144    // 2 × f16 + 12 scale bytes + 128 nibble bytes
        case .q5_K: return 176    // 2 × f16 + 12 + 32 high bits + 128
        case .q6_K: return 210    // 128 low + 64 high + 16 scales + f16
        }
    }

    /// Whether the type is block-quantized.
    public var isQuantized: Bool { blockSize > 1 }

    /// Whether the type holds real numbers that casts and quantizers apply to.
    public var isFloatingPoint: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64, .f8E4M3, .f8E5M2: return true
        default: return isQuantized
        }
    }

    /// Whether the type holds integers (or booleans): index buffers such as `position_ids`.
    public var isInteger: Bool { !isFloatingPoint }

    /// The bytes that `elements` elements take, or `nil` when the count is not a whole number of blocks
    /// or the product overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    /// Parses a CLI spelling, accepting common aliases (`float16`, `fp16`, `half`, `bfloat16`, `float32`).
    public init?(name: String) {
        let lowered = name.lowercased()
        let aliases: [String: DType] = [
            "float16": .f16, "fp16": .f16, "half": .f16, "bfloat16": .bf16, "float32": .f32, "fp32": .f32,
            "float": .f32, "float64": .f64, "double": .f64, "int8": .i8, "uint8": .u8, "int16": .i16,
            "int32": .i32, "int64": .i64, "q4_k": .q4_K, "q5_k": .q5_K, "q6_k": .q6_K,
        ]
        if let alias = aliases[lowered] { self = alias } else if let value = DType(rawValue: lowered) { self = value } else { return nil }
    }
}
