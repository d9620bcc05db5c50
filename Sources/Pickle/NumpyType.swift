import ModelIR

/// numpy's type codes for the IR types, as a pickled `numpy.dtype` names them: a kind character and the item
/// size in bytes (`f4`, `i8`, `b1`; numpy's "array interface" `typestr` without its byte-order character).
///
/// numpy has no bfloat16: Paddle writes bf16 arrays as their raw 16-bit patterns under `u2`, so `u2` reads back
/// as bf16 and bf16 is written as `u2` (an unsigned 16-bit tensor has no code here).
public enum NumpyType {
    /// Each code and the IR type it stands for, one entry per type.
    public static let codes: [(code: String, dtype: DType)] = [
        ("f4", .f32), ("f2", .f16), ("f8", .f64), ("i8", .i64), ("i4", .i32), ("i2", .i16), ("i1", .i8), ("u1", .u8),
        ("u2", .bf16), ("b1", .bool),
    ]

    /// The IR type of a code without its byte-order character (`f4`), or `nil` when unsupported.
    public static func dtype(code: String) -> DType? { codes.first { $0.code == code }?.dtype }

    /// The code of an IR type (`f4`), or `nil` when numpy arrays of it are not written.
    public static func code(for dtype: DType) -> String? { codes.first { $0.dtype == dtype }?.code }
}
