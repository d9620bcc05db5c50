import BinaryIO
import ModelIR

/// Writes GGUF v3 (ggml's `docs/gguf.md`), streaming: header, metadata, tensor infos (dims reversed to
/// ggml order, offsets the running padded sum), padding to the alignment, then one tensor at a time.
public enum GGUFWriter {
    public static let maxNameBytes = 63

    /// Writes `tensors` (names ≤ 63 bytes, shapes in PyTorch order) with `metadata` to `path` atomically.
    public static func write(
        _ tensors: [Tensor], metadata: [(key: String, value: GGUFValue)], alignment: Int = 32, to path: String,
        options: OutputOptions = .init()
    ) throws {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        var keys = Set<String>()
        for (key, value) in metadata {
            guard keys.insert(key).inserted else { throw ModelError(location: .key(key), "metadata key appears twice") }
            if case .array(let type, let items) = value {
                guard items.allSatisfy({ $0.typeID == type && $0.typeID != 9 }) else {
                    throw ModelError(location: .key(key), "array elements must all have the declared type and not be arrays")
                }
            }
        }
        var names = Set<String>()
        for tensor in tensors {
            guard tensor.name.utf8.count <= maxNameBytes else {
                throw ModelError(location: .tensor(tensor.name), "name is \(tensor.name.utf8.count) bytes; GGUF allows at most \(maxNameBytes)")
            }
            // llama.cpp keeps names as C strings: a NUL would cut one short (and collide), control characters
            // break its logs and lookups.
            guard !tensor.name.isEmpty, !tensor.name.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw ModelError(location: .tensor(tensor.name), "name is empty or holds control characters (NUL, line breaks), which GGUF readers cannot keep")
            }
            guard names.insert(tensor.name).inserted else { throw ModelError(location: .tensor(tensor.name), "appears twice") }
            guard GGUFTensorType.id(for: tensor.dtype) != nil else {
                throw ModelError(location: .tensor(tensor.name), "\(tensor.dtype.rawValue) cannot be stored in GGUF")
            }
            guard tensor.shape.rank <= 4, tensor.shape.rank >= 1 || tensor.info.elementCount == 1 else {
                throw ModelError(location: .tensor(tensor.name), "rank \(tensor.shape.rank) exceeds GGUF's 4 dimensions")
            }
            guard (tensor.shape.dimensions.last ?? 1) % tensor.dtype.blockSize == 0 else {
                throw ModelError(location: .tensor(tensor.name), "rows of \(tensor.shape.dimensions.last ?? 1) are not whole \(tensor.dtype.rawValue) blocks")
            }
        }

        let output = try AtomicFile(destination: path, existing: options.existing)
        do {
            var out = ByteWriter(streamingTo: output)
            try out.writeUTF8("GGUF")
            try out.write(UInt32(3), endianness: .little)
            try out.write(tensors.count, as: UInt64.self, endianness: .little)
            try out.write(metadata.count, as: UInt64.self, endianness: .little)
            for (key, value) in metadata {
                try writeString(key, to: &out)
                try out.write(value.typeID, endianness: .little)
                try writeValue(value, to: &out)
            }
            var offset = 0
            var sizes: [Int] = []
            for tensor in tensors {
                try writeString(tensor.name, to: &out)
                let dims = tensor.shape.rank == 0 ? [1] : tensor.shape.dimensions
                try out.write(dims.count, as: UInt32.self, endianness: .little)
                for d in dims.reversed() { try out.write(d, as: UInt64.self, endianness: .little) }
                try out.write(GGUFTensorType.id(for: tensor.dtype)!, endianness: .little)
                try out.write(offset, as: UInt64.self, endianness: .little)
                let size = tensor.info.byteCount ?? 0
                sizes.append(size)
                offset += padded(size, alignment)
            }
            try out.pad(toMultipleOf: alignment)
            for (tensor, size) in zip(tensors, sizes) {
                try tensor.write(to: &out)
                try out.writeZeros(padded(size, alignment) - size)
                options.progress?(tensor.name, size)
            }
            try out.commit()
        } catch {
            output.abandon()
            throw ModelError(error, file: path)
        }
    }

    /// A GGUF string: its UTF-8 length as a u64, then the bytes (no terminator).
    static func writeString(_ text: String, to out: inout ByteWriter) throws {
        try out.write(text.utf8.count, as: UInt64.self, endianness: .little)
        try out.writeUTF8(text)
    }

    /// A metadata value's payload (its type id is written before it; an array's element type and count lead it).
    static func writeValue(_ value: GGUFValue, to out: inout ByteWriter) throws {
        switch value {
        case .u8(let v): try out.write(v, endianness: .little)
        case .i8(let v): try out.write(v, endianness: .little)
        case .u16(let v): try out.write(v, endianness: .little)
        case .i16(let v): try out.write(v, endianness: .little)
        case .u32(let v): try out.write(v, endianness: .little)
        case .i32(let v): try out.write(v, endianness: .little)
        case .f32(let v): try out.write(v, endianness: .little)
        case .bool(let v): try out.write(UInt8(v ? 1 : 0), endianness: .little)
        case .string(let s): try writeString(s, to: &out)
        case .u64(let v): try out.write(v, endianness: .little)
        case .i64(let v): try out.write(v, endianness: .little)
        case .f64(let v): try out.write(v, endianness: .little)
        case .array(let type, let items):
            try out.write(type, endianness: .little)
            try out.write(items.count, as: UInt64.self, endianness: .little)
            for item in items { try writeValue(item, to: &out) }
        }
    }

    static func padded(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}
