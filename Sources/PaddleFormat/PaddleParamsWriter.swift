import BinaryIO
import ModelIR

/// Writes `.pdparams` files that `paddle.load` reads: the pickle `paddle.save` writes for a state dict of numpy
/// arrays (protocol 4 opcodes, no framing: `{name: numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')}` with
/// BUILD state `(1, shape, dtype('<f4'), False, data)`). The pickle is streamed: opcodes around each tensor's raw
/// bytes, pulled one tensor at a time into a temporary file renamed into place.
public enum PaddleParamsWriter {
    /// numpy type strings of the IR types Paddle stores (bf16 as raw uint16 bits, as Paddle does).
    static let typeStrings: [DType: String] = [
        .f32: "f4", .f16: "f2", .f64: "f8", .i64: "i8", .i32: "i4", .i16: "i2", .i8: "i1", .u8: "u1", .bf16: "u2", .bool: "b1",
    ]

    public static func write(_ tensors: [Tensor], to path: String, options: OutputOptions) throws {
        for tensor in tensors where typeStrings[tensor.dtype] == nil {
            throw ModelError(location: .tensor(tensor.name), "\(tensor.dtype.rawValue) has no numpy type Paddle reads")
        }
        let file = try AtomicFile(destination: path, existing: options.existing)
        do {
            var head: [UInt8] = [0x80, 0x04, UInt8(ascii: "}")]  // PROTO 4, EMPTY_DICT
            if !tensors.isEmpty { head.append(UInt8(ascii: "(")) }  // MARK
            try file.write(head)
            for tensor in tensors {
                guard let count = tensor.info.byteCount else {
                    throw ModelError(location: .tensor(tensor.name), "shape \(tensor.shape) has no valid byte size")
                }
                var op: [UInt8] = []
                unicode(tensor.name, into: &op)
                global("numpy.core.multiarray", "_reconstruct", into: &op)
                global("numpy", "ndarray", into: &op)
                op += [UInt8(ascii: "J")] + le(UInt32(0)) + [0x85]  // BININT 0, TUPLE1 → (0,)
                op += [UInt8(ascii: "C"), 1, UInt8(ascii: "b"), 0x87, UInt8(ascii: "R")]  // b'b', TUPLE3, REDUCE
                // State: (1, shape, dtype, False, data)
                op += [UInt8(ascii: "("), UInt8(ascii: "J")] + le(UInt32(1))
                op.append(UInt8(ascii: "("))
                for d in tensor.shape.dimensions {
                    op += d <= Int(Int32.max) ? [UInt8(ascii: "J")] + le(UInt32(d)) : [0x8A, 8] + le(UInt64(d))  // BININT or LONG1
                }
                op.append(UInt8(ascii: "t"))
                global("numpy", "dtype", into: &op)
                unicode(typeStrings[tensor.dtype]!, into: &op)
                op += [0x89, 0x88, 0x87, UInt8(ascii: "R")]  // False, True, TUPLE3, REDUCE → dtype('f4', False, True)
                // dtype state: (3, '<' or '|', None, None, None, -1, -1, 0)
                op += [UInt8(ascii: "("), UInt8(ascii: "J")] + le(UInt32(3))
                unicode(tensor.dtype.blockBytes == 1 ? "|" : "<", into: &op)
                op += [UInt8(ascii: "N"), UInt8(ascii: "N"), UInt8(ascii: "N"), UInt8(ascii: "J")] + le(UInt32(bitPattern: -1))
                op += [UInt8(ascii: "J")] + le(UInt32(bitPattern: -1)) + [UInt8(ascii: "J")] + le(UInt32(0))
                op += [UInt8(ascii: "t"), UInt8(ascii: "b")]  // TUPLE, BUILD (the dtype)
                op.append(0x89)  // False: C order
                if count <= Int(UInt32.max) {
                    op += [UInt8(ascii: "B")] + le(UInt32(count))
                } else {
                    op += [0x8E] + le(UInt64(count))
                }
                try file.write(op)
                try tensor.write(to: file)
                try file.write([UInt8(ascii: "t"), UInt8(ascii: "b")])  // TUPLE, BUILD (the array)
            }
            if !tensors.isEmpty { try file.write([UInt8(ascii: "u")]) }  // SETITEMS
            try file.write([UInt8(ascii: ".")])
            try file.commit()
        } catch {
            file.abandon()
            throw error
        }
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    static func unicode(_ text: String, into op: inout [UInt8]) {
        let utf8 = Array(text.utf8)
        if utf8.count < 256 {
            op += [0x8C, UInt8(utf8.count)] + utf8  // SHORT_BINUNICODE
        } else {
            op += [UInt8(ascii: "X")] + le(UInt32(utf8.count)) + utf8  // BINUNICODE
        }
    }

    /// STACK_GLOBAL of `module.name`.
    static func global(_ module: String, _ name: String, into op: inout [UInt8]) {
        unicode(module, into: &op)
        unicode(name, into: &op)
        op.append(0x93)
    }
}
