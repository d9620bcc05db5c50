import BinaryIO
import Dispatch
import ModelIR

/// Swaps the two axes of a rank-2 tensor's bytes (TF dense kernels are [in, out]; PyTorch's are [out, in]).
/// Works in cache-sized tiles on any element width, bands of rows split over the cores; 4-byte elements (f32, the
/// bulk of every checkpoint) through 8 × 8 register blocks (`transposeWords`).
package func transposed2D(_ source: UnsafeRawBufferPointer, rows: Int, columns: Int, width: Int) -> TensorBuffer {
    let output = TensorBuffer(uninitializedCount: rows * columns * width)
    output.withMutableBytes { transpose2D(source, into: $0, rows: rows, columns: columns, width: width) }
    return output
}

/// `transposed2D` into `destination`, which receives all `rows · columns · width` bytes.
/// - Precondition: `source` and `destination` hold `rows · columns · width` bytes.
package func transpose2D(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                         rows: Int, columns: Int, width: Int) {
    precondition(destination.count == source.count, "transpose outside its buffers")
    transposeColumns(columns: 0..<columns, of: source, rows: rows, totalColumns: columns, width: width, into: destination)
}

/// Rows `outputRows` of the transpose of the row-major `rows × totalColumns` matrix `source` (its columns
/// `outputRows`), into `destination`, which receives exactly those `outputRows.count · rows · width` bytes: element
/// (r, c) of the source lands at `(c − outputRows.lowerBound) · rows + r`. Bands of source rows run on the cores at once.
/// - Precondition: `source` holds `rows · totalColumns · width` bytes and `outputRows` lies in `0..<totalColumns`.
package func transposeColumns(columns outputRows: Range<Int>, of source: UnsafeRawBufferPointer, rows: Int,
                              totalColumns: Int, width: Int, into destination: UnsafeMutableRawBufferPointer) {
    precondition(rows >= 0 && width > 0 && outputRows.lowerBound >= 0 && outputRows.upperBound <= totalColumns
                 && source.count == rows * totalColumns * width && destination.count == outputRows.count * rows * width,
                 "transpose outside its buffers")
    guard !outputRows.isEmpty, rows > 0 else { return }
    // Each band of source rows writes its own columns of every output row: disjoint bytes.
    Parallel.forEachChunk(of: rows, size: width == 4 ? 128 : 32, lending: (source, destination)) { band, buffers in
        let (source, destination) = buffers
        switch width {
        case 4: transposeWords(buffers.0, columns: outputRows, totalColumns: totalColumns, into: buffers.1, rows: rows, band: band)
        case 1: transposeBand(source, destination, band, outputRows, rows, totalColumns, as: UInt8.self)
        case 2: transposeBand(source, destination, band, outputRows, rows, totalColumns, as: UInt16.self)
        case 8: transposeBand(source, destination, band, outputRows, rows, totalColumns, as: UInt64.self)
        default:
            for r in band {
                for c in outputRows {
                    let from = (r * totalColumns + c) * width, to = ((c - outputRows.lowerBound) * rows + r) * width
                    for b in 0..<width { destination[to + b] = source[from + b] }
                }
            }
        }
    }
}

private func transposeBand<T: FixedWidthInteger>(
    _ source: UnsafeRawBufferPointer, _ destination: UnsafeMutableRawBufferPointer, _ band: Range<Int>,
    _ outputRows: Range<Int>, _ rows: Int, _ totalColumns: Int, as _: T.Type
) {
    let size = MemoryLayout<T>.size
    let tile = 32
    for columnStart in stride(from: outputRows.lowerBound, to: outputRows.upperBound, by: tile) {
        let columnEnd = min(outputRows.upperBound, columnStart + tile)
        for r in band {
            for c in columnStart..<columnEnd {
                let value = source.loadUnaligned(fromByteOffset: (r * totalColumns + c) * size, as: T.self)
                destination.storeBytes(of: value, toByteOffset: ((c - outputRows.lowerBound) * rows + r) * size, as: T.self)
            }
        }
    }
}

/// How many output rows a transposed tensor is computed in at a time (`Tensor.transposed()`): about `target` bytes,
/// so the strip is still in cache when it is written, but at least 64 rows, so each source row is read in runs of
/// 64 elements (whole cache lines) rather than a few bytes at a time.
func transposeStripRows(rows: Int, columns: Int, width: Int, target: Int = 1 << 20) -> Int {
    let rowBytes = max(1, rows * width)
    return min(max(1, columns), max(64, target / rowBytes))
}

extension Tensor {
    /// The tensor with its two axes swapped, lazily: when written, the source is read once (lent from its mapping,
    /// its pages released in 2 MB blocks afterwards) and the result computed in cache-sized strips of output rows that
    /// are written as they come (`TensorData.streamed`); when read, gathered into a buffer.
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
        let strip = transposeStripRows(rows: rows, columns: columns, width: width)
        return Tensor(name: name, dtype: dtype, shape: [columns, rows], data: .streamed(count: count) { emit in
            try source.data.withBytes { bytes in
                guard bytes.count == count else {
                    throw ModelError(location: .tensor(source.name), "has \(bytes.count) bytes, but \(source.dtype.rawValue) \(source.shape) needs \(count)")
                }
                try Scratch.withBuffer(bytes: min(count, strip * rows * width)) { buffer in
                    for first in stride(from: 0, to: columns, by: strip) {
                        let outputRows = first..<min(columns, first + strip)
                        let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(outputRows.count * rows * width)])
                        transposeColumns(columns: outputRows, of: bytes, rows: rows, totalColumns: columns, width: width, into: piece)
                        try emit(UnsafeRawBufferPointer(piece))
                    }
                }
            }
        })
    }
}
