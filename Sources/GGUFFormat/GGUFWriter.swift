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
        var header: [UInt8] = []
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
        func appendString(_ s: String) { append(UInt64(s.utf8.count)); header += Array(s.utf8) }
        func appendValue(_ value: GGUFValue) {
            switch value {
            case .u8(let v): append(v)
            case .i8(let v): append(v)
            case .u16(let v): append(v)
            case .i16(let v): append(v)
            case .u32(let v): append(v)
            case .i32(let v): append(v)
            case .f32(let v): append(v.bitPattern)
            case .bool(let v): append(UInt8(v ? 1 : 0))
            case .string(let s): appendString(s)
            case .u64(let v): append(v)
            case .i64(let v): append(v)
            case .f64(let v): append(v.bitPattern)
            case .array(let type, let items):
                append(type)
                append(UInt64(items.count))
                items.forEach(appendValue)
            }
        }
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

        header += Array("GGUF".utf8)
        append(UInt32(3))
        append(UInt64(tensors.count))
        append(UInt64(metadata.count))
        for (key, value) in metadata {
            appendString(key)
            append(value.typeID)
            appendValue(value)
        }
        var offset = 0
        var sizes: [Int] = []
        for tensor in tensors {
            appendString(tensor.name)
            let dims = tensor.shape.rank == 0 ? [1] : tensor.shape.dimensions
            append(UInt32(dims.count))
            for d in dims.reversed() { append(UInt64(d)) }
            append(GGUFTensorType.id(for: tensor.dtype)!)
            append(UInt64(offset))
            let size = tensor.info.byteCount ?? 0
            sizes.append(size)
            offset += padded(size, alignment)
        }
        header += [UInt8](repeating: 0, count: padded(header.count, alignment) - header.count)

        let output = try AtomicFile(destination: path, existing: options.existing)
        do {
            try output.write(header)
            for (tensor, size) in zip(tensors, sizes) {
                try tensor.write(to: output)
                try output.writeZeros(padded(size, alignment) - size)
                options.progress?(tensor.name, size)
            }
            try output.commit()
        } catch {
            output.abandon()
            throw ModelError(error, file: path)
        }
    }

    static func padded(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}
