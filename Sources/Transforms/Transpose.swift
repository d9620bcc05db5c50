import BinaryIO
import ModelIR

/// Swaps the two axes of a rank-2 tensor's bytes (TF dense kernels are [in, out]; PyTorch's are [out, in]).
/// Works in cache-sized tiles on any element width.
public func transposed2D(_ source: UnsafeRawBufferPointer, rows: Int, columns: Int, width: Int) -> TensorBuffer {
    let output = TensorBuffer(count: rows * columns * width)
    output.withMutableBytes { destination in
        let tile = 32
        for rowStart in stride(from: 0, to: rows, by: tile) {
            for columnStart in stride(from: 0, to: columns, by: tile) {
                for r in rowStart..<min(rows, rowStart + tile) {
                    for c in columnStart..<min(columns, columnStart + tile) {
                        let from = (r * columns + c) * width
                        let to = (c * rows + r) * width
                        switch width {
                        case 4: destination.storeBytes(of: source.loadUnaligned(fromByteOffset: from, as: UInt32.self), toByteOffset: to, as: UInt32.self)
                        case 2: destination.storeBytes(of: source.loadUnaligned(fromByteOffset: from, as: UInt16.self), toByteOffset: to, as: UInt16.self)
                        case 8: destination.storeBytes(of: source.loadUnaligned(fromByteOffset: from, as: UInt64.self), toByteOffset: to, as: UInt64.self)
                        default:
                            for b in 0..<width { destination[to + b] = source[from + b] }
                        }
                    }
                }
            }
        }
    }
    return output
}

extension Tensor {
    /// The tensor with its two axes swapped, lazily.
    public func transposed() throws -> Tensor {
        guard shape.rank == 2, !dtype.isQuantized else {
            throw ModelError(location: .tensor(name), "only unquantized rank-2 tensors can be transposed (shape \(shape))")
        }
        let source = self
        let (rows, columns) = (shape[0], shape[1])
        return Tensor(name: name, dtype: dtype, shape: [columns, rows], data: .producer {
            try source.withBytes { transposed2D($0, rows: rows, columns: columns, width: source.dtype.blockBytes) }
        })
    }
}
