import BinaryIO
import CSystemShims
import ModelIR
import Synchronization

/// GGUF's Q8_0 blocks (ggml's `ggml-quants.c`): per 32 values along a row, an f16 scale
/// `d = max|x| / 127` and 32 int8 quants `round(x / d)` (half away from zero), computed with the f32 `d`.
/// Byte-identical to ggml's `quantize_row_q8_0_ref` and gguf-py's `quants.quantize`.
public enum Q8_0 {
    public static let blockSize = 32
    public static let blockBytes = 34

    /// Quantizes f32 values (a whole number of blocks) into a new buffer; blocks are split over the cores.
    /// A NaN or infinite value is refused (it would make the block's scale NaN and its quants undefined): the
    /// blocks note one as they pass (one read of the input), and the first is then looked up to be named.
    package static func quantize(_ source: UnsafeRawBufferPointer) throws(NonFiniteValue) -> TensorBuffer {
        let blocks = source.count / 4 / blockSize
        let output = TensorBuffer(count: blocks * blockBytes)
        let nonFinite = Atomic<Bool>(false)
        output.withMutableBytes { destination in
            Parallel.forEachChunk(of: blocks, size: 4096, lending: (source, destination)) { range, buffers in
                let (source, destination) = buffers
                var seen = false
                for block in range {
                    seen = quantizeBlock(source, block, into: destination) || seen
                }
                if seen { nonFinite.store(true, ordering: .relaxed) }
            }
        }
        if nonFinite.load(ordering: .relaxed) { try NonFiniteValue.check(source) }
        return output
    }

    /// One block, 16 lanes at a time. Every step is element-wise except the maximum, which is exact in any order
    /// (taken on the magnitudes' bits, whose integer order is the float order), so the lanes give ggml's bytes. A
    /// block whose `1 / d` overflows (subnormals) goes to the scalar code. Returns whether the block holds a NaN or an
    /// infinity (its bytes are then meaningless).
    @inline(__always)
    static func quantizeBlock(_ source: UnsafeRawBufferPointer, _ block: Int, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        #if _endian(little)
        let first = block * blockSize * 4
        let lo = source.loadUnaligned(fromByteOffset: first, as: SIMD16<UInt32>.self)
        let hi = source.loadUnaligned(fromByteOffset: first + 64, as: SIMD16<UInt32>.self)
        let amaxBits = max((lo & 0x7FFF_FFFF).max(), (hi & 0x7FFF_FFFF).max())
        if amaxBits >= 0x7F80_0000 { return true }
        let d = Float(bitPattern: amaxBits) / 127
        let id: Float = d != 0 ? 1 / d : 0
        guard id.isFinite else { return quantizeBlockScalar(source, block, into: destination) }
        let base = block * blockBytes
        destination.storeBytes(of: FloatBits.halfBits(fromFloatBits: d.bitPattern).littleEndian, toByteOffset: base, as: UInt16.self)
        destination.storeBytes(of: levels(unsafeBitCast(lo, to: SIMD16<Float>.self) * id), toByteOffset: base + 2, as: SIMD16<Int8>.self)
        destination.storeBytes(of: levels(unsafeBitCast(hi, to: SIMD16<Float>.self) * id), toByteOffset: base + 18, as: SIMD16<Int8>.self)
        return false
        #else
        return quantizeBlockScalar(source, block, into: destination)
        #endif
    }

    /// `roundf` of each lane, for |x| ≤ 127.5 (finite values times a finite `1 / d`). Adding 1.5·2^23 rounds half
    /// to even and leaves the integer in the low mantissa bits (ggml's `nearest_int`); where the exact remainder is
    /// one half toward the value's own sign, that tie went toward zero and steps away from it.
    @inline(__always)
    static func levels(_ x: SIMD16<Float>) -> SIMD16<Int8> {
        let shifted = x + 12_582_912
        let fraction = x - (shifted - 12_582_912)
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let q = unsafeBitCast((unsafeBitCast(shifted, to: SIMD16<UInt32>.self) & 0x007F_FFFF) &- 0x0040_0000, to: SIMD16<Int32>.self)
        let tie = LaneMask.isZero(unsafeBitCast(fraction, to: SIMD16<UInt32>.self) ^ (0x3F00_0000 | (bits & 0x8000_0000)))
        let sign = unsafeBitCast(bits, to: SIMD16<Int32>.self) &>> 31  // 0 or -1
        let step = (unsafeBitCast(tie, to: SIMD16<Int32>.self) ^ sign) &- sign  // +tie or -tie
        return SIMD16<Int8>(truncatingIfNeeded: q &+ step)
    }

    /// The scalar form of `quantizeBlock` (big-endian hosts, and the reference the tests hold the lanes to).
    @discardableResult
    static func quantizeBlockScalar(_ source: UnsafeRawBufferPointer, _ block: Int, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        var amax: Float = 0
        var finite = true
        let first = block * blockSize * 4
        for j in 0..<blockSize {
            let v = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: first + j * 4, as: UInt32.self)))
            amax = max(amax, abs(v))
            finite = finite && v.isFinite
        }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        let base = block * blockBytes
        destination.storeBytes(of: FloatBits.halfBits(fromFloatBits: d.bitPattern).littleEndian, toByteOffset: base, as: UInt16.self)
        for j in 0..<blockSize {
            let v = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: first + j * 4, as: UInt32.self)))
            let q = (v * id).rounded(.toNearestOrAwayFromZero)
            destination[base + 2 + j] = UInt8(bitPattern: q.isNaN ? 0 : Int8(max(-128, min(127, q))))
        }
        return !finite
    }

    /// Dequantizes Q8_0 blocks to f32.
    package static func dequantize(_ source: UnsafeRawBufferPointer) -> TensorBuffer {
        let blocks = source.count / blockBytes
        let output = TensorBuffer(count: blocks * blockSize * 4)
        output.withMutableBytes { destination in
            guard let from = source.baseAddress, let to = destination.baseAddress, blocks > 0 else { return }
            #if _endian(little)
            // Blocks over the cores, 64 Ki blocks (8 MB of floats) a chunk.
            let floats = to.assumingMemoryBound(to: Float.self)
            Parallel.forEachChunk(of: blocks, size: 1 << 16, lending: floats) { range, floats in
                modelport_q8_0_dequantize(from + range.lowerBound * blockBytes, range.count, floats + range.lowerBound * blockSize)
            }
            #else
            for block in 0..<blocks {
                let base = block * blockBytes
                let d = Float(bitPattern: FloatBits.floatBits(fromHalfBits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: base, as: UInt16.self))))
                for j in 0..<blockSize {
                    let q = Float(Int8(bitPattern: source[base + 2 + j]))
                    destination.storeBytes(of: (d * q).bitPattern.littleEndian, toByteOffset: (block * blockSize + j) * 4, as: UInt32.self)
                }
            }
            #endif
        }
        return output
    }
}
