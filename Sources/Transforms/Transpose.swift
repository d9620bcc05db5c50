import BinaryIO
import Dispatch
import ModelIR

/// Swaps the two axes of a rank-2 tensor's bytes (TF dense kernels are [in, out]; PyTorch's are [out, in]).
/// Works in cache-sized tiles on any element width, bands of rows split over the cores; 4-byte elements (f32, the
/// bulk of every checkpoint) through 8 × 8 register blocks (`transposeWords`).
package func transposed2D(_ source: UnsafeRawBufferPointer, rows: Int, columns: Int, width: Int) -> TensorBuffer {
    let output = TensorBuffer(count: rows * columns * width)
    output.withMutableBytes { transpose2D(source, into: $0, rows: rows, columns: columns, width: width) }
    return output
}

/// `transposed2D` into `destination` (a writer's output pages, say), which receives all `rows · columns · width`
/// bytes.
/// - Precondition: `source` and `destination` hold `rows · columns · width` bytes.
package func transpose2D(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                         rows: Int, columns: Int, width: Int) {
    precondition(source.count == rows * columns * width && destination.count == source.count, "transpose outside its buffers")
    let tile = 32
    if width == 4 {
        Parallel.forEachChunk(of: rows, size: 128, lending: (source, destination)) { rowRange, buffers in
            transposeWords(buffers.0, into: buffers.1, rows: rows, columns: columns, rowRange: rowRange)
        }
        return
    }
    do {
        // Each band of rows writes its own columns of every output row: disjoint bytes.
        Parallel.forEachChunk(of: rows, size: tile, lending: (source, destination)) { rowRange, buffers in
            let (source, destination) = buffers
            switch width {
            case 1: transposeBand(source, destination, rowRange, rows, columns, tile, as: UInt8.self)
            case 2: transposeBand(source, destination, rowRange, rows, columns, tile, as: UInt16.self)
            case 8: transposeBand(source, destination, rowRange, rows, columns, tile, as: UInt64.self)
            default:
                for r in rowRange {
                    for c in 0..<columns {
                        for b in 0..<width { destination[(c * rows + r) * width + b] = source[(r * columns + c) * width + b] }
                    }
                }
            }
        }
    }
}

private func transposeBand<T: FixedWidthInteger>(
    _ source: UnsafeRawBufferPointer, _ destination: UnsafeMutableRawBufferPointer, _ rowRange: Range<Int>,
    _ rows: Int, _ columns: Int, _ tile: Int, as _: T.Type
) {
    let size = MemoryLayout<T>.size
    for columnStart in stride(from: 0, to: columns, by: tile) {
        let columnEnd = min(columns, columnStart + tile)
        for r in rowRange {
            for c in columnStart..<columnEnd {
                let value = source.loadUnaligned(fromByteOffset: (r * columns + c) * size, as: T.self)
                destination.storeBytes(of: value, toByteOffset: (c * rows + r) * size, as: T.self)
            }
        }
    }
}

extension Tensor {
    /// The tensor with its two axes swapped, lazily: computed straight into a writer's output
    /// (`TensorData.filled`), or into a buffer when read.
    public func transposed() throws -> Tensor {
        guard shape.rank == 2, !dtype.isQuantized else {
            throw ModelError(location: .tensor(name), "only unquantized rank-2 tensors can be transposed (shape \(shape))")
        }
        let source = self
        let (rows, columns) = (shape[0], shape[1])
        guard let count = info.byteCount else {
            throw ModelError(location: .tensor(name), "shape \(shape) of \(dtype.rawValue) has no valid byte size")
        }
        let width = dtype.blockBytes
        return Tensor(name: name, dtype: dtype, shape: [columns, rows], data: .filled(count: count) { _, destination in
            try source.withBytes { transpose2D($0, into: destination, rows: rows, columns: columns, width: width) }
        })
    }
}
