import BinaryIO
import Dispatch
import ModelIR

/// Element-wise conversion between the float types (f64, f32, f16, bf16): round to nearest even,
/// infinities and NaN preserved (see `FloatBits`). Narrowing from f64 goes through f32, as PyTorch's
/// `Tensor.to` does. Large tensors are split over the cores.
public enum FloatCast {
    /// The types `convert` accepts on either side.
    public static let supported: Set<DType> = [.f64, .f32, .f16, .bf16]

    /// Converts `source` (elements of `from`) into a new buffer of `to`.
    /// - Precondition: both types are in `supported` and `source` holds whole elements.
    package static func convert(_ source: UnsafeRawBufferPointer, from: DType, to: DType) -> TensorBuffer {
        precondition(supported.contains(from) && supported.contains(to), "unsupported cast \(from) → \(to)")
        let output = TensorBuffer(count: source.count / from.blockBytes * to.blockBytes)
        output.withMutableBytes { convert(source, from: from, into: $0, to: to) }
        return output
    }

    /// Converts `source` (elements of `from`) into `destination`, which holds as many elements of `to`.
    /// - Precondition: both types are in `supported`, `source` holds whole elements and `destination` fits them.
    package static func convert(_ source: UnsafeRawBufferPointer, from: DType, into destination: UnsafeMutableRawBufferPointer, to: DType) {
        precondition(supported.contains(from) && supported.contains(to), "unsupported cast \(from) → \(to)")
        let count = source.count / from.blockBytes
        precondition(destination.count >= count * to.blockBytes, "cast destination too small")
        Parallel.forEachChunk(of: count, size: 1 << 16, lending: (source, destination)) { range, buffers in
            convertRange(buffers.0, from: from, buffers.1, to: to, range)
        }
    }

    private static func convertRange(
        _ source: UnsafeRawBufferPointer, from: DType, _ destination: UnsafeMutableRawBufferPointer, to: DType,
        _ range: Range<Int>
    ) {
        var range = range
        #if _endian(little)
        if from == .f32, to == .f16 || to == .bf16 {
            // Eight lanes at a time (`FloatBits`' lane forms give the scalar bits), the tail below.
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let bits = source.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<UInt32>.self)
                let narrow = to == .f16 ? FloatBits.halfBits(fromFloatBits: bits) : FloatBits.bfloat16Bits(fromFloatBits: bits)
                destination.storeBytes(of: narrow, toByteOffset: i * 2, as: SIMD8<UInt16>.self)
                i += 8
            }
            range = i..<range.upperBound
        }
        #endif
        for i in range {
            let bits = floatBits(source, i, from)
            switch to {
            case .f32: destination.storeBytes(of: bits.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            case .f16: destination.storeBytes(of: FloatBits.halfBits(fromFloatBits: bits).littleEndian, toByteOffset: i * 2, as: UInt16.self)
            case .bf16: destination.storeBytes(of: FloatBits.bfloat16Bits(fromFloatBits: bits).littleEndian, toByteOffset: i * 2, as: UInt16.self)
            case .f64:
                let wide = from == .f64 ? source.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                                        : Double(Float(bitPattern: bits)).bitPattern.littleEndian
                destination.storeBytes(of: wide, toByteOffset: i * 8, as: UInt64.self)
            default: preconditionFailure()
            }
        }
    }

    /// Element `i` of `source` as binary32 bits.
    @inline(__always)
    private static func floatBits(_ source: UnsafeRawBufferPointer, _ i: Int, _ type: DType) -> UInt32 {
        switch type {
        case .f32: return UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
        case .f16: return FloatBits.floatBits(fromHalfBits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
        case .bf16: return FloatBits.floatBits(fromBFloat16Bits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
        case .f64:
            let d = Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
            return Float(d).bitPattern
        default: preconditionFailure()
        }
    }
}
