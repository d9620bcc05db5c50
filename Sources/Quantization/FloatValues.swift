import BinaryIO
import ModelIR

/// Tensor bytes as `[Float]` and back: what readers of weights (the verifier, the packed-weight expansion) need.
public enum FloatValues {
    /// Whether `decode` reads `dtype`.
    public static func decodes(_ dtype: DType) -> Bool {
        dtype == .f32 || dtype == .f16 || dtype == .bf16 || dtype == .f64 || BlockQuantizer.types.contains(dtype)
    }

    /// The values of `bytes` holding `dtype` (f32, f16, bf16, f64 or any GGUF block type) as f32; nil for other types.
    package static func decode(_ bytes: UnsafeRawBufferPointer, from dtype: DType) -> [Float]? {
        switch dtype {
        case .f32:
            return littleEndian(bytes)
        case let type where BlockQuantizer.types.contains(type):
            return BlockQuantizer.dequantize(bytes, from: type).withBytes(littleEndian)
        case .f16, .bf16, .f64:
            return FloatCast.convert(bytes, from: dtype, to: .f32).withBytes(littleEndian)
        default:
            return nil
        }
    }

    /// Little-endian f32 values (one copy; the bytes may be unaligned).
    package static func littleEndian(_ bytes: UnsafeRawBufferPointer) -> [Float] {
        let n = bytes.count / 4
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            if n > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: n * 4) }
            #if _endian(big)
            for i in 0..<n { buffer[i] = Float(bitPattern: UInt32(littleEndian: buffer[i].bitPattern)) }
            #endif
            initialized = n
        }
    }

    /// The values as little-endian f32 bytes.
    public static func buffer(_ values: [Float]) -> TensorBuffer {
        let buffer = TensorBuffer(count: values.count * 4)
        buffer.withMutableBytes { out in
            for (i, v) in values.enumerated() { out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        return buffer
    }
}
