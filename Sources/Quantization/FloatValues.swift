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
        if dtype == .f32 { return littleEndian(bytes) }
        return withValues(bytes, from: dtype) { Array($0) }
    }

    /// Lends the values of `bytes` holding `dtype` as f32 without a copy where there is nothing to convert (aligned
    /// little-endian f32), else from one decoded buffer; nil (and `body` not run) for types `decode` does not read.
    package static func withValues<R>(_ bytes: UnsafeRawBufferPointer, from dtype: DType,
                                      _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R? {
        let decoded: TensorBuffer
        switch dtype {
        case .f32:
            #if _endian(little)
            if let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
                return try body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: bytes.count / 4))
            }
            #endif
            return try littleEndian(bytes).withUnsafeBufferPointer(body)
        case let type where BlockQuantizer.types.contains(type): decoded = BlockQuantizer.dequantize(bytes, from: type)
        case .f16, .bf16, .f64: decoded = FloatCast.convert(bytes, from: dtype, to: .f32)
        default: return nil
        }
        #if _endian(little)
        // The buffer is freshly allocated (malloc alignment) and holds little-endian f32, so it can be read as Float.
        return try decoded.withBytes { raw in
            try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: Float.self), count: raw.count / 4))
        }
        #else
        return try decoded.withBytes { try littleEndian($0).withUnsafeBufferPointer(body) }
        #endif
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
