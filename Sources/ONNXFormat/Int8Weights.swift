import BinaryIO
import CSystemShims
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelIR
import Quantization
import Synchronization
import Transforms

/// Symmetric int8 quantization of weights for the ONNX int8 graph: one fp32 scale per output channel
/// (`scale = max|w| / 127`, `q = round(w / scale)` in −127…127), so `w ≈ q · scale`.
enum Int8Weights {
    /// A Linear weight `[out, in]` as MatMulInteger's B `[in, out]` int8 and its `[out]` scales.
    static func perOutputChannel(_ w: Tensor, name: String) -> (ONNXInitializer, ONNXInitializer) {
        let (rows, columns) = (w.shape[0], w.shape[1])
        let scales = ScaleMemo()
        let q = ONNXInitializer(name: name + "_quantized", type: .int8, dims: [columns, rows], data: .producer {
            // Transposed as f32 (the 8 × 8 register kernel) into a reused buffer, then quantized with one scale per
            // column: the same codes as quantizing row by row and transposing them, without moving single bytes.
            try withF32Bytes(w) { values in
                let rowScales = scales.remember(try checkedRowScales(values, rows: rows, columns: columns, tensor: w.name))
                return Scratch.withBuffer(bytes: values.count) { transposed in
                    transpose2D(values, into: transposed, rows: rows, columns: columns, width: 4)
                    return quantized(UnsafeRawBufferPointer(transposed), inverses: rowScales.map { $0 > 0 ? 1 / $0 : 0 },
                                     rows: columns, columns: rows, perColumn: true)
                }
            }
        })
        let scale = ONNXInitializer(name: name + "_scale", type: .float, dims: [rows], data: .producer {
            floatBuffer(try scales.value { try withF32Bytes(w) { try checkedRowScales($0, rows: rows, columns: columns, tensor: w.name) } })
        })
        return (q, scale)
    }

    /// An embedding table `[rows, width]` as int8 rows and one scale per row.
    static func perRow(_ t: Tensor, name: String) -> (ONNXInitializer, ONNXInitializer) {
        let (rows, columns) = (t.shape[0], t.shape[1])
        let scales = ScaleMemo()
        let q = ONNXInitializer(name: name + "_quantized", type: .int8, dims: [rows, columns], data: .producer {
            try withF32Bytes(t) { values in
                let rowScales = scales.remember(try checkedRowScales(values, rows: rows, columns: columns, tensor: t.name))
                return quantizedRows(values, scales: rowScales, rows: rows, columns: columns)
            }
        })
        let scale = ONNXInitializer(name: name + "_scale", type: .float, dims: [rows], data: .producer {
            floatBuffer(try scales.value { try withF32Bytes(t) { try checkedRowScales($0, rows: rows, columns: columns, tensor: t.name) } })
        })
        return (q, scale)
    }

    /// The row scales of one weight, computed by whichever of its two initializers is written first (the codes, in
    /// the writer's order) and reused by the other, so the weight (smoothed: computed) is read once, not twice.
    final class ScaleMemo: Sendable {
        private let scales = Mutex<[Float]?>(nil)

        /// Keeps `computed` for `value` and returns it.
        func remember(_ computed: [Float]) -> [Float] {
            scales.withLock { $0 = computed }
            return computed
        }

        /// The kept scales, or `compute`'s.
        func value(_ compute: () throws -> [Float]) throws -> [Float] {
            if let kept = scales.withLock({ $0 }) { return kept }
            return remember(try compute())
        }
    }

    /// Row-major little-endian f32 `values`, `rows` rows of `columns`, quantized symmetrically to −127…127 with their
    /// row's scale (`round-half-even(x · (1 / scale))`), row-major; bands of rows on the cores at once.
    static func quantizedRows(_ values: UnsafeRawBufferPointer, scales: [Float], rows: Int, columns: Int) -> TensorBuffer {
        precondition(scales.count == rows)
        return quantized(values, inverses: scales.map { $0 > 0 ? 1 / $0 : 0 }, rows: rows, columns: columns, perColumn: false)
    }

    /// Codes `clamp(round-half-even(x · inverse), −127, 127)` of row-major f32 `values`, with one inverse per row, or per
    /// column when `perColumn`; bands of rows on the cores at once.
    static func quantized(_ values: UnsafeRawBufferPointer, inverses: [Float], rows: Int, columns: Int, perColumn: Bool) -> TensorBuffer {
        precondition(values.count == rows * columns * 4 && inverses.count == (perColumn ? columns : rows))
        let out = TensorBuffer(uninitializedCount: rows * columns)
        guard rows > 0, columns > 0, let from = values.baseAddress else { return out }
        out.withMutableBytes { bytes in
            inverses.withUnsafeBufferPointer { inverses in
                let to = bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
                Parallel.forEachChunk(of: rows, size: max(1, (256 << 10) / columns), lending: (from, to, inverses)) { band, lent in
                    modelport_int8_symmetric(lent.0, columns, band.lowerBound, band.upperBound, lent.2.baseAddress, perColumn ? 1 : 0, lent.1)
                }
            }
        }
        return out
    }

    /// Each row's largest magnitude / 127 (`modelport_f32_row_ranges`: the largest magnitude is max(−min, max) with
    /// both taken with 0, exactly); nil when a value is NaN or infinite.
    static func rowScales(_ values: UnsafeRawBufferPointer, rows: Int, columns: Int) -> [Float]? {
        precondition(values.count == rows * columns * 4)
        var lo = [Float](repeating: 0, count: rows), hi = [Float](repeating: 0, count: rows)
        if rows > 0, columns > 0, let from = values.baseAddress {
            guard modelport_f32_row_ranges(from, columns, 0, rows, &lo, &hi) == 0 else { return nil }
        }
        return zip(lo, hi).map { max(-$0, $1) / 127 }
    }

    /// `rowScales`, with an error naming `tensor` for a NaN or an infinity (int8 cannot store them).
    static func checkedRowScales(_ values: UnsafeRawBufferPointer, rows: Int, columns: Int, tensor: String) throws -> [Float] {
        guard let scales = rowScales(values, rows: rows, columns: columns) else { throw nonFinite(tensor) }
        return scales
    }

    static func nonFinite(_ tensor: String) -> ONNXError {
        ONNXError(.cannotExport, "tensor '\(tensor)' holds NaN or Inf, which int8 cannot store")
    }

    /// Lends `body` the tensor's values as little-endian f32 bytes (its own bytes when it is f32, else converted).
    /// Not checked for NaN and infinities: the quantizers' range pass (`checkedRowScales`) finds them on the way.
    static func withF32Bytes<R>(_ t: Tensor, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard t.dtype.isFloatingPoint, !t.dtype.isQuantized else {
            throw ONNXError(.cannotExport, "tensor '\(t.name)' is \(t.dtype.rawValue), which cannot be quantized")
        }
        return try t.withBytes { bytes in
            t.dtype == .f32 ? try body(bytes) : try FloatCast.convert(bytes, from: t.dtype, to: .f32).withBytes { try body($0) }
        }
    }

    static func floats(_ t: Tensor) throws -> [Float] {
        guard let values = try t.withBytes({ FloatValues.decode($0, from: t.dtype) }) else {
            throw ONNXError(.cannotExport, "tensor '\(t.name)' is \(t.dtype.rawValue), which cannot be quantized")
        }
        guard values.allSatisfy(\.isFinite) else { throw nonFinite(t.name) }
        return values
    }

    static func floatBuffer(_ values: [Float]) -> TensorBuffer {
        let out = TensorBuffer(count: values.count * 4)
        out.withMutableBytes { bytes in
            for (i, v) in values.enumerated() { bytes.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        return out
    }
}
