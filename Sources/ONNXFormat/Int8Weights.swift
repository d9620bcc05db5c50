import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelIR
import Quantization

/// Symmetric int8 quantization of weights for the ONNX int8 graph: one fp32 scale per output channel
/// (`scale = max|w| / 127`, `q = round(w / scale)` in −127…127), so `w ≈ q · scale`.
enum Int8Weights {
    /// A Linear weight `[out, in]` as MatMulInteger's B `[in, out]` int8 and its `[out]` scales.
    static func perOutputChannel(_ w: Tensor, name: String) -> (ONNXInitializer, ONNXInitializer) {
        let (rows, columns) = (w.shape[0], w.shape[1])
        let q = ONNXInitializer(name: name + "_quantized", type: .int8, dims: [columns, rows], data: .producer {
            let values = try floats(w)
            return quantizedRows(values, scales: rowScales(values, rows: rows, columns: columns), rows: rows, columns: columns,
                                 zeroPoint: 0) { r, c in c * rows + r }
        })
        let scale = ONNXInitializer(name: name + "_scale", type: .float, dims: [rows], data: .producer {
            floatBuffer(rowScales(try floats(w), rows: rows, columns: columns))
        })
        return (q, scale)
    }

    /// An embedding table `[rows, width]` as int8 rows and one scale per row.
    static func perRow(_ t: Tensor, name: String) -> (ONNXInitializer, ONNXInitializer) {
        let (rows, columns) = (t.shape[0], t.shape[1])
        let q = ONNXInitializer(name: name + "_quantized", type: .int8, dims: [rows, columns], data: .producer {
            let values = try floats(t)
            return quantizedRows(values, scales: rowScales(values, rows: rows, columns: columns), rows: rows, columns: columns,
                                 zeroPoint: 0) { r, c in r * columns + c }
        })
        let scale = ONNXInitializer(name: name + "_scale", type: .float, dims: [rows], data: .producer {
            floatBuffer(rowScales(try floats(t), rows: rows, columns: columns))
        })
        return (q, scale)
    }

    /// Row-major values, `rows` rows of `columns`, quantized symmetrically to −127…127 with their row's scale, plus
    /// `zeroPoint` (0 for int8); value (r, c) lands at byte `place(r, c)`.
    static func quantizedRows(_ values: [Float], scales: [Float], rows: Int, columns: Int, zeroPoint: Int,
                              place: (Int, Int) -> Int) -> TensorBuffer {
        let out = TensorBuffer(count: rows * columns)
        out.withMutableBytes { bytes in
            for r in 0..<rows {
                let inverse = scales[r] > 0 ? 1 / scales[r] : 0
                for c in 0..<columns {
                    let v = (values[r * columns + c] * inverse).rounded(.toNearestOrEven)
                    bytes[place(r, c)] = UInt8(truncatingIfNeeded: Int(max(-127, min(127, v))) + zeroPoint)
                }
            }
        }
        return out
    }

    static func rowScales(_ values: [Float], rows: Int, columns: Int) -> [Float] {
        (0..<rows).map { r in
            var m: Float = 0
            for c in 0..<columns { m = max(m, abs(values[r * columns + c])) }
            return m / 127
        }
    }

    static func floats(_ t: Tensor) throws -> [Float] {
        guard let values = try t.withBytes({ FloatValues.decode($0, from: t.dtype) }) else {
            throw ONNXError(.cannotExport, "tensor '\(t.name)' is \(t.dtype.rawValue), which cannot be quantized")
        }
        guard values.allSatisfy(\.isFinite) else {
            throw ONNXError(.cannotExport, "tensor '\(t.name)' holds NaN or Inf, which int8 cannot store")
        }
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
