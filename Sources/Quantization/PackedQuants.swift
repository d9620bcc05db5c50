import BinaryIO
import CSystemShims
import Dispatch
import ModelIR
import Synchronization

/// Per-channel symmetric int8 in the compressed-tensors `int-quantized` layout (compressed-tensors' `int-quantized` format):
/// one f32 scale per output row, `scale = max(|min(row, 0)|, max(row, 0)) / 127.5` (machine epsilon when the row is
/// all zeros) and `q = round-half-even(clamp(x / scale, −128, 127))`, computed as compressed-tensors' own
/// `calculate_qparams` and quantizer do, so the bytes equal what it writes.
public enum Int8PerChannel {
    /// The scale of each of `rows` rows of f32 values, alone: what the `weight_scale` tensor holds, computed without
    /// keeping the codes (a writer may ask for the scales long before the codes). A non-finite value is refused.
    package static func checkedScales(_ source: UnsafeRawBufferPointer, rows: Int) throws(NonFiniteValue) -> [Float] {
        try scales(source, rows: rows)
    }

    /// The scale of each of `rows` rows of f32 values, from one pass that also looks for non-finite values (the
    /// first one is then found and thrown); rows are split over the cores.
    static func scales(_ source: UnsafeRawBufferPointer, rows: Int) throws(NonFiniteValue) -> [Float] {
        let columns = rows > 0 ? source.count / 4 / rows : 0
        var lo = [Float](repeating: 0, count: rows), hi = [Float](repeating: 0, count: rows)
        let bad = Atomic<Bool>(false)
        if let base = source.baseAddress, columns > 0 {
            lo.withUnsafeMutableBufferPointer { lo in
                hi.withUnsafeMutableBufferPointer { hi in
                    Parallel.forEachChunk(of: rows, size: max(1, rows / 64), lending: (lo, hi)) { range, out in
                        if modelport_f32_row_ranges(base, columns, range.lowerBound, range.upperBound, out.0.baseAddress!,
                                                    out.1.baseAddress!) != 0 {
                            bad.store(true, ordering: .relaxed)
                        }
                    }
                }
            }
        }
        if bad.load(ordering: .relaxed) { try NonFiniteValue.check(source) }
        return zip(lo, hi).map { lo, hi in
            let scale = max(abs(lo), abs(hi)) / 127.5
            return scale == 0 ? Float.ulpOfOne : scale
        }
    }

    /// int8 codes of `rows` rows of f32 values, with the scales of `scales(_:rows:)`; rows are split over the cores.
    /// A NaN or infinite value is refused (it would become a finite code, or make its row's scale infinite).
    package static func quantize(_ source: UnsafeRawBufferPointer, rows: Int) throws(NonFiniteValue) -> (codes: TensorBuffer, scales: [Float]) {
        let scales = try scales(source, rows: rows)
        let columns = rows > 0 ? source.count / 4 / rows : 0
        let output = TensorBuffer(count: rows * columns)
        output.withMutableBytes { destination in
            guard let from = source.baseAddress, let to = destination.baseAddress, columns > 0 else { return }
            scales.withUnsafeBufferPointer { scales in
                Parallel.forEachChunk(of: rows, size: max(1, rows / 64), lending: scales) { range, scales in
                    modelport_int8_quantize_rows(from, columns, range.lowerBound, range.upperBound, scales.baseAddress!,
                                                 to.assumingMemoryBound(to: CChar.self))
                }
            }
        }
        return (output, scales)
    }

    /// f32 values `q · scale` of int8 codes with one scale per row.
    package static func dequantize(_ codes: UnsafeRawBufferPointer, scales: [Float]) -> TensorBuffer {
        let columns = scales.isEmpty ? 0 : codes.count / scales.count
        let output = TensorBuffer(count: codes.count * 4)
        output.withMutableBytes { out in
            guard let from = codes.baseAddress, let to = out.baseAddress, columns > 0 else { return }
            let rows = min(scales.count, codes.count / columns)
            scales.withUnsafeBufferPointer { scales in
                Parallel.forEachChunk(of: rows, size: max(1, (1 << 21) / columns), lending: scales) { range, scales in
                    modelport_int8_dequantize_rows(from.assumingMemoryBound(to: CChar.self), columns, range.lowerBound, range.upperBound,
                                                   scales.baseAddress!, to.assumingMemoryBound(to: Float.self))
                }
            }
            // A tail that is not a whole row (not written by ModelPort) keeps the old rule: the last row's scale.
            for i in (rows * columns)..<codes.count {
                let v = Float(Int8(bitPattern: codes[i])) * scales[min(i / columns, scales.count - 1)]
                out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            }
        }
        return output
    }

    @inline(__always)
    static func value(_ source: UnsafeRawBufferPointer, _ index: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
    }
}

/// MLX's affine group quantization (`mlx.core.quantize`, mode "affine"; mlx's `mlx/ops.cpp`), as its CPU
/// kernel computes it: per group of `groupSize` consecutive values, the end of larger magnitude is made exact
/// (`scale = ±max((max − min) / (2^bits − 1), 1e−7)`, re-fitted so that end is a whole number of steps, which
/// becomes the bias), and `q = clamp(rint((x − bias) / scale), 0, 2^bits − 1)` is packed little-endian into u32
/// words (`32 / bits` codes each). Scales and biases are rounded to the output float type last.
public enum MLXAffine {
    public static let groupSizes = [32, 64, 128]
    public static let bitWidths = [4, 8]

    /// Packed codes (`count · bits / 32` u32 words), scales and biases (one per group, f32 before rounding).
    /// A NaN or infinite value is refused (it would become a finite code, or make its group's scale infinite).
    package static func quantize(_ source: UnsafeRawBufferPointer, groupSize: Int, bits: Int) throws(NonFiniteValue)
        -> (packed: TensorBuffer, scales: [Float], biases: [Float])
    {
        let packed = TensorBuffer(count: source.count / 4 * bits / 8)
        let result = packed.withMutableBytes { words in
            Result { () throws(NonFiniteValue) in try run(source, groupSize: groupSize, bits: bits, packing: words) }
        }
        let (scales, biases) = try result.get()
        return (packed, scales, biases)
    }

    /// The scale and bias of every group (what `quantize` returns beside the codes), without the codes: for the
    /// `scales` and `biases` tensors, computed apart from the codes so neither is held while the other is written.
    package static func groupParameters(_ source: UnsafeRawBufferPointer, groupSize: Int, bits: Int) throws(NonFiniteValue)
        -> (scales: [Float], biases: [Float])
    {
        try run(source, groupSize: groupSize, bits: bits, packing: nil)
    }

    /// Groups split over the cores, each through `modelport_mlx_affine_groups` (AVX2 where the processor has it),
    /// which also reports whether it met a NaN or an infinity; the first one is then found and thrown.
    private static func run(_ source: UnsafeRawBufferPointer, groupSize: Int, bits: Int, packing words: UnsafeMutableRawBufferPointer?)
        throws(NonFiniteValue) -> (scales: [Float], biases: [Float])
    {
        precondition(groupSizes.contains(groupSize) && bitWidths.contains(bits) && source.count % (groupSize * 4) == 0)
        let groups = source.count / 4 / groupSize
        var scales = [Float](repeating: 0, count: groups), biases = [Float](repeating: 0, count: groups)
        guard groups > 0, let from = source.baseAddress else { return (scales, biases) }
        let packed = words.map { UnsafeMutableRawPointer($0.baseAddress!) }
        let bad = Atomic<Bool>(false)
        scales.withUnsafeMutableBufferPointer { scaleOut in
            biases.withUnsafeMutableBufferPointer { biasOut in
                Parallel.forEachChunk(of: groups, size: 4096, lending: (from, packed, scaleOut, biasOut)) { range, buffers in
                    let (from, packed, scaleOut, biasOut) = buffers
                    if modelport_mlx_affine_groups(from, groupSize, range.lowerBound, range.upperBound, Int32(bits),
                                                   scaleOut.baseAddress, biasOut.baseAddress,
                                                   packed?.assumingMemoryBound(to: UInt32.self)) != 0 {
                        bad.store(true, ordering: .relaxed)
                    }
                }
            }
        }
        if bad.load(ordering: .relaxed) { try NonFiniteValue.check(source) }
        return (scales, biases)
    }

    /// f32 values `scale · q + bias` of packed codes.
    package static func dequantize(_ packed: UnsafeRawBufferPointer, scales: [Float], biases: [Float], groupSize: Int, bits: Int) -> TensorBuffer {
        let perWord = 32 / bits
        let count = packed.count / 4 * perWord
        let mask = UInt32((1 << bits) - 1)
        let output = TensorBuffer(count: count * 4)
        let groups = (count + groupSize - 1) / groupSize
        // Whole groups with a scale and a bias: `modelport_mlx_dequantize_groups` (AVX2 where the processor has it).
        let known = min(count / groupSize, scales.count, biases.count)
        output.withMutableBytes { out in
            if known > 0, groupSizes.contains(groupSize), bitWidths.contains(bits), let from = packed.baseAddress, let to = out.baseAddress {
                scales.withUnsafeBufferPointer { scales in
                    biases.withUnsafeBufferPointer { biases in
                        Parallel.forEachChunk(of: known, size: 4096, lending: (scales, biases)) { band, lent in
                            modelport_mlx_dequantize_groups(from, groupSize, band.lowerBound, band.upperBound, Int32(bits),
                                                            lent.0.baseAddress, lent.1.baseAddress, to.assumingMemoryBound(to: Float.self))
                        }
                    }
                }
            }
            // The rest (a tail that is not a whole group, groups past the last scale: not written by ModelPort) group by
            // group, word by word: `scale · q + bias` for each code, 0 past the last scale.
            let rest = groupSizes.contains(groupSize) && bitWidths.contains(bits) ? known : 0
            Parallel.forEachChunk(of: groups - rest, size: 4096, lending: out) { band, out in
                for g in (band.lowerBound + rest)..<(band.upperBound + rest) {
                    let (scale, bias, known) = g < scales.count && g < biases.count ? (scales[g], biases[g], true) : (0, 0, false)
                    let end = min(count, (g + 1) * groupSize)
                    var i = g * groupSize
                    while i < end {
                        let word = UInt32(littleEndian: packed.loadUnaligned(fromByteOffset: (i / perWord) * 4, as: UInt32.self))
                        for k in (i % perWord)..<min(perWord, i % perWord + end - i) {
                            let q = Float((word >> UInt32(k * bits)) & mask)
                            let v: Float = known ? scale * q + bias : 0
                            out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
                            i += 1
                        }
                    }
                }
            }
        }
        return output
    }
}
