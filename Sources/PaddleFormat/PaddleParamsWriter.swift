import BinaryIO
import ModelIR
import Pickle

/// Writes `.pdparams` files that `paddle.load` reads: the pickle `paddle.save` writes for a state dict of numpy
/// arrays (protocol 4 opcodes, no framing: `{name: numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')}` with
/// BUILD state `(1, shape, dtype('<f4'), False, data)`, as numpy's `ndarray.__reduce__` and `dtype.__reduce__`
/// give them). The pickle is streamed: opcodes around each tensor's raw bytes, pulled one tensor at a time into
/// a temporary file renamed into place.
public enum PaddleParamsWriter {
    public static func write(_ tensors: [Tensor], to path: String, options: OutputOptions) throws {
        for tensor in tensors where NumpyType.code(for: tensor.dtype) == nil {
            throw ModelError(location: .tensor(tensor.name), "\(tensor.dtype.rawValue) has no numpy type Paddle reads")
        }
        let file = try AtomicFile(destination: path, existing: options.existing)
        do {
            var w = try PickleWriter(version: 4, output: ByteWriter(streamingTo: file))
            try w.emptyDict()
            if !tensors.isEmpty { try w.mark() }
            for tensor in tensors {
                guard let count = tensor.info.byteCount, let code = NumpyType.code(for: tensor.dtype) else {
                    throw ModelError(location: .tensor(tensor.name), "shape \(tensor.shape) has no valid byte size")
                }
                try w.string(tensor.name)
                // _reconstruct(ndarray, (0,), b'b')
                try w.global("numpy.core.multiarray", "_reconstruct")
                try w.global("numpy", "ndarray")
                try w.binInt(0)
                try w.tuple1()
                try w.shortBinBytes([UInt8(ascii: "b")])
                try w.tuple3()
                try w.reduce()
                // State: (1, shape, dtype, False, data)
                try w.mark()
                try w.binInt(1)
                try w.mark()
                for d in tensor.shape.dimensions {
                    if let small = Int32(exactly: d) { try w.binInt(small) } else { try w.long1(Int64(d)) }
                }
                try w.tuple()
                // dtype(code, False, True) with state (3, '<' or '|', None, None, None, -1, -1, 0)
                try w.global("numpy", "dtype")
                try w.string(code)
                try w.newFalse()
                try w.newTrue()
                try w.tuple3()
                try w.reduce()
                try w.mark()
                try w.binInt(3)
                try w.string(tensor.dtype.blockBytes == 1 ? "|" : "<")
                try w.none()
                try w.none()
                try w.none()
                try w.binInt(-1)
                try w.binInt(-1)
                try w.binInt(0)
                try w.tuple()
                try w.build()
                try w.newFalse()  // C order
                if count <= Int(UInt32.max) {
                    try w.binBytesHeader(count: count)
                } else {
                    try w.binBytes8Header(count: count)
                }
                try tensor.write(to: &w.output)
                try w.tuple()
                try w.build()
            }
            if !tensors.isEmpty { try w.setItems() }
            try w.stop()
            try w.output.commit()
        } catch {
            file.abandon()
            throw error
        }
    }
}
