import BinaryIO
import ModelIR

/// GGUF's Q8_0 blocks (ggml's `ggml-quants.c`): per 32 values along a row, an f16 scale
/// `d = max|x| / 127` and 32 int8 quants `round(x / d)` (half away from zero), computed with the f32 `d`.
/// Byte-identical to ggml's `quantize_row_q8_0_ref` and gguf-py's `quants.quantize`.
public enum Q8_0 {
    public static let blockSize = 32
    public static let blockBytes = 34

    /// Quantizes f32 values (a whole number of blocks) into a new buffer; blocks are split over the cores.
    /// A NaN or infinite value is refused (it would make the block's scale NaN and its quants undefined).
    public static func quantize(_ source: UnsafeRawBufferPointer) throws(NonFiniteValue) -> TensorBuffer {
        try NonFiniteValue.check(source)
        let blocks = source.count / 4 / blockSize
        let output = TensorBuffer(count: blocks * blockBytes)
        output.withMutableBytes { destination in
            nonisolated(unsafe) let destination = destination
            nonisolated(unsafe) let source = source
            forEachChunk(of: blocks, size: 4096) { range in
                for block in range {
                    quantizeBlock(source, block, into: destination)
                }
            }
        }
        return output
    }

    @inline(__always)
    static func quantizeBlock(_ source: UnsafeRawBufferPointer, _ block: Int, into destination: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        let first = block * blockSize * 4
        for j in 0..<blockSize {
            let v = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: first + j * 4, as: UInt32.self)))
            amax = max(amax, abs(v))
        }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        let base = block * blockBytes
        destination.storeBytes(of: FloatBits.halfBits(fromFloatBits: d.bitPattern).littleEndian, toByteOffset: base, as: UInt16.self)
        for j in 0..<blockSize {
            let v = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: first + j * 4, as: UInt32.self)))
            // Finite inputs keep |q| <= 127, except where `1 / d` overflows (a block of subnormals): clamp rather
            // than trap there (ggml's C conversion is undefined in that case).
            let q = (v * id).rounded(.toNearestOrAwayFromZero)
            destination[base + 2 + j] = UInt8(bitPattern: q.isNaN ? 0 : Int8(max(-128, min(127, q))))
        }
    }

    /// Dequantizes Q8_0 blocks to f32.
    public static func dequantize(_ source: UnsafeRawBufferPointer) -> TensorBuffer {
        let blocks = source.count / blockBytes
        let output = TensorBuffer(count: blocks * blockSize * 4)
        output.withMutableBytes { destination in
            for block in 0..<blocks {
                let base = block * blockBytes
                let d = Float(bitPattern: FloatBits.floatBits(fromHalfBits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: base, as: UInt16.self))))
                for j in 0..<blockSize {
                    let q = Float(Int8(bitPattern: source[base + 2 + j]))
                    destination.storeBytes(of: (d * q).bitPattern.littleEndian, toByteOffset: (block * blockSize + j) * 4, as: UInt32.self)
                }
            }
        }
        return output
    }
}
