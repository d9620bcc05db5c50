import BinaryIO
import Foundation
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
            let scales = rowScales(values, rows: rows, columns: columns)
            let out = TensorBuffer(count: rows * columns)
            out.withMutableBytes { bytes in
                for r in 0..<rows {
                    let inverse = scales[r] > 0 ? 1 / scales[r] : 0
                    for c in 0..<columns {
                        let v = (values[r * columns + c] * inverse).rounded(.toNearestOrEven)
                        bytes[c * rows + r] = UInt8(bitPattern: Int8(max(-127, min(127, v))))
                    }
                }
            }
            return out
        })
        let scale = ONNXInitializer(name: name + "_scale", type: .float, dims: [rows], data: .producer {
            floatBuffer(rowScales(try floats(w), rows: rows, columns: columns))
        })
        return (q, scale)
    }

    /// Elements per scale in `blockwise`.
    static let blockSize = 32

    /// A Linear weight `[out, in]` as MatMulNBits' B `[out, in / 32, 32]` uint8 (`q + 128`, ORT's default zero point
    /// for 8 bits, com.microsoft `MatMulNBits` in ORT's `docs/ContribOperators.md`) and `[out · in / 32]` fp32 scales,
    /// symmetric per block: `scale = max|w| / 127`, `w ≈ (q − 128) · scale`.
    static func blockwise(_ w: Tensor, name: String) -> (ONNXInitializer, ONNXInitializer) {
        let (rows, columns) = (w.shape[0], w.shape[1])
        let blocks = rows * columns / blockSize
        let q = ONNXInitializer(name: name + "_quantized", type: .uint8, dims: [rows, columns / blockSize, blockSize], data: .producer {
            let values = try floats(w)
            let scales = rowScales(values, rows: blocks, columns: blockSize)
            let out = TensorBuffer(count: rows * columns)
            out.withMutableBytes { bytes in
                for block in 0..<blocks {
                    let inverse = scales[block] > 0 ? 1 / scales[block] : 0
                    for i in (block * blockSize)..<((block + 1) * blockSize) {
                        let v = (values[i] * inverse).rounded(.toNearestOrEven)
                        bytes[i] = UInt8(Int(max(-127, min(127, v))) + 128)
                    }
                }
            }
            return out
        })
        let scale = ONNXInitializer(name: name + "_scale", type: .float, dims: [blocks], data: .producer {
            floatBuffer(rowScales(try floats(w), rows: blocks, columns: blockSize))
        })
        return (q, scale)
    }

    /// An embedding table `[rows, width]` as int8 rows and one scale per row.
    static func perRow(_ t: Tensor, name: String) -> (ONNXInitializer, ONNXInitializer) {
        let (rows, columns) = (t.shape[0], t.shape[1])
        let q = ONNXInitializer(name: name + "_quantized", type: .int8, dims: [rows, columns], data: .producer {
            let values = try floats(t)
            let scales = rowScales(values, rows: rows, columns: columns)
            let out = TensorBuffer(count: rows * columns)
            out.withMutableBytes { bytes in
                for r in 0..<rows {
                    let inverse = scales[r] > 0 ? 1 / scales[r] : 0
                    for c in 0..<columns {
                        let v = (values[r * columns + c] * inverse).rounded(.toNearestOrEven)
                        bytes[r * columns + c] = UInt8(bitPattern: Int8(max(-127, min(127, v))))
                    }
                }
            }
            return out
        })
        let scale = ONNXInitializer(name: name + "_scale", type: .float, dims: [rows], data: .producer {
            floatBuffer(rowScales(try floats(t), rows: rows, columns: columns))
        })
        return (q, scale)
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
