import ModelIR

/// The dtype strings of a safetensors header (the safetensors format's README), in the
/// reference enum's order, which the writer sorts by.
enum SafetensorsDType: String, CaseIterable {
    case bool = "BOOL", f4 = "F4", f6E2M3 = "F6_E2M3", f6E3M2 = "F6_E3M2", u8 = "U8", i8 = "I8"
    case f8E5M2 = "F8_E5M2", f8E4M3 = "F8_E4M3", f8E8M0 = "F8_E8M0", f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ", i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16", i32 = "I32"
    case u32 = "U32", f32 = "F32", c64 = "C64", f64 = "F64", i64 = "I64", u64 = "U64"

    /// The position in the reference enum (the writer puts higher ranks first).
    var rank: Int { Self.allCases.firstIndex(of: self)! }

    /// The IR type, for the dtypes ModelPort carries.
    var dtype: DType? {
        switch self {
        case .bool: return .bool
        case .u8: return .u8
        case .i8: return .i8
        case .f8E5M2: return .f8E5M2
        case .f8E4M3: return .f8E4M3
        case .i16: return .i16
        case .u16: return .u16
        case .f16: return .f16
        case .bf16: return .bf16
        case .i32: return .i32
        case .u32: return .u32
        case .f32: return .f32
        case .f64: return .f64
        case .i64: return .i64
        case .u64: return .u64
        case .f4, .f6E2M3, .f6E3M2, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ, .c64: return nil
        }
    }

    init?(_ dtype: DType) {
        guard let match = Self.allCases.first(where: { $0.dtype == dtype }) else { return nil }
        self = match
    }
}
