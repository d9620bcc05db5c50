import ModelIR

/// A GGUF metadata value (ggml's `docs/gguf.md`), with the exact type llama.cpp checks.
public enum GGUFValue: Sendable, Equatable {
    case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), f32(Float), bool(Bool)
    case string(String)
    /// Elements of one type (`elementType`); nested arrays are invalid.
    case array(elementType: UInt32, [GGUFValue])
    case u64(UInt64), i64(Int64), f64(Double)

    /// The wire type ids of strings and 32-bit integers (ggml's `gguf_type`), the element types of the arrays
    /// ModelPort writes.
    public static let stringTypeID: UInt32 = 8
    public static let i32TypeID: UInt32 = 5

    /// The wire type id.
    public var typeID: UInt32 {
        switch self {
        case .u8: return 0
        case .i8: return 1
        case .u16: return 2
        case .i16: return 3
        case .u32: return 4
        case .i32: return 5
        case .f32: return 6
        case .bool: return 7
        case .string: return 8
        case .array: return 9
        case .u64: return 10
        case .i64: return 11
        case .f64: return 12
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    /// Any integer value as Int.
    public var intValue: Int? {
        switch self {
        case .u8(let v): return Int(v)
        case .i8(let v): return Int(v)
        case .u16(let v): return Int(v)
        case .i16(let v): return Int(v)
        case .u32(let v): return Int(v)
        case .i32(let v): return Int(v)
        case .u64(let v): return Int(exactly: v)
        case .i64(let v): return Int(exactly: v)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .f32(let v): return Double(v)
        case .f64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    /// A short text for `inspect`.
    public var summary: String {
        switch self {
        case .string(let s): return s.count > 60 ? String(s.prefix(57)) + "…" : s
        case .array(_, let items): return "[\(items.count) items]"
        case .bool(let b): return b ? "true" : "false"
        case .f32(let v): return String(v)
        case .f64(let v): return String(v)
        default: return intValue.map(String.init) ?? "?"
        }
    }
}

/// ggml tensor type ids (B2) for the types the IR holds.
public enum GGUFTensorType {
    static let table: [(id: UInt32, dtype: DType)] = [
        (0, .f32), (1, .f16), (2, .q4_0), (3, .q4_1), (6, .q5_0), (7, .q5_1), (8, .q8_0), (12, .q4_K), (13, .q5_K),
        (14, .q6_K), (24, .i8), (25, .i16), (26, .i32), (27, .i64), (28, .f64), (30, .bf16),
    ]

    public static func dtype(for id: UInt32) -> DType? { table.first { $0.id == id }?.dtype }
    public static func id(for dtype: DType) -> UInt32? { table.first { $0.dtype == dtype }?.id }
}
