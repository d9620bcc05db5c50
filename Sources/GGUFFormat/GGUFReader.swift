import BinaryIO
import ModelIR

/// Reads GGUF v2/v3, validating every size, offset and type against the file before anything is allocated.
public enum GGUFReader {
    /// Caps on what a hostile file may claim.

    public struct Contents: Sendable {
        public var metadata: [(key: String, value: GGUFValue)]
        /// Tensors under their GGUF names, shapes in PyTorch order, bytes mapped from the file.
        public var tensors: [Tensor]
        public var alignment: Int

        public func value(_ key: String) -> GGUFValue? { metadata.first { $0.key == key }?.value }
    }

    public static func read(path: String, limits: ReaderLimits = .current) throws -> Contents {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        do {
            return try file.withBytes { bytes in try parse(bytes, file: file, limits: limits) }
        } catch let error as BinaryIOError {
            throw ModelError(error, file: path)
        }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, file: MappedFile, limits: ReaderLimits) throws -> Contents {
        var r = ByteReader(bytes, path: file.path)
        func fail(_ reason: String) -> ModelError { ModelError(file: file.path, location: .offset(r.offset), reason) }
        guard bytes.count >= 4, try r.read(UInt32.self, endianness: .little) == 0x4655_4747 else {
            throw ModelError(file: file.path, location: .offset(0), "bad magic (not a GGUF file)")
        }
        let version = try r.read(UInt32.self, endianness: .little)
        guard version == 2 || version == 3 else {
            throw ModelError(file: file.path, location: .offset(4), version & 0xFFFF == 0
                ? "big-endian GGUF is not supported" : "GGUF version \(version) is not supported (2 or 3)")
        }
        let tensorCount = try r.read(UInt64.self, endianness: .little)
        let kvCount = try r.read(UInt64.self, endianness: .little)
        guard tensorCount <= UInt64(limits.maxTensors), kvCount <= UInt64(limits.maxTensors) else {
            throw fail("claims \(tensorCount) tensors and \(kvCount) metadata entries, over the limits").with(kind: .limitExceeded)
        }
        func string() throws -> String {
            let start = r.offset
            let length = try r.read(UInt64.self, endianness: .little)
            guard length <= UInt64(min(limits.maxValueBytes, r.remaining)) else {
                throw ModelError(file: file.path, location: .offset(start), "string length \(length) runs past the end of the file")
            }
            let raw = try r.readBytes(Int(length))
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw ModelError(file: file.path, location: .offset(start), "string is not valid UTF-8")
            }
            return text
        }
        func value(_ type: UInt32, depth: Int) throws -> GGUFValue {
            switch type {
            case 0: return .u8(try r.read(UInt8.self, endianness: .little))
            case 1: return .i8(try r.read(Int8.self, endianness: .little))
            case 2: return .u16(try r.read(UInt16.self, endianness: .little))
            case 3: return .i16(try r.read(Int16.self, endianness: .little))
            case 4: return .u32(try r.read(UInt32.self, endianness: .little))
            case 5: return .i32(try r.read(Int32.self, endianness: .little))
            case 6: return .f32(Float(bitPattern: try r.read(UInt32.self, endianness: .little)))
            case 7:
                let b = try r.read(UInt8.self, endianness: .little)
                guard b <= 1 else { throw fail("bool value \(b) is neither 0 nor 1") }
                return .bool(b == 1)
            case 8: return .string(try string())
            case 9:
                guard depth == 0 else { throw fail("nested arrays are not allowed") }
                let element = try r.read(UInt32.self, endianness: .little)
                let start = r.offset
                let count = try r.read(UInt64.self, endianness: .little)
                // Every element takes at least one byte: a count beyond what remains is a lie.
                guard count <= UInt64(r.remaining) else {
                    throw ModelError(file: file.path, location: .offset(start), "array of \(count) elements does not fit in the file")
                }
                guard count <= UInt64(limits.maxMetadataArrayElements) else {
                    throw ModelError(kind: .limitExceeded, file: file.path, location: .offset(start),
                                     "array of \(count) elements exceeds the \(limits.maxMetadataArrayElements)-element limit")
                }
                var items: [GGUFValue] = []
                items.reserveCapacity(min(Int(count), 1 << 16))  // grows as elements actually parse
                for _ in 0..<Int(count) { items.append(try value(element, depth: 1)) }
                return .array(elementType: element, items)
            case 10: return .u64(try r.read(UInt64.self, endianness: .little))
            case 11: return .i64(try r.read(Int64.self, endianness: .little))
            case 12: return .f64(Double(bitPattern: try r.read(UInt64.self, endianness: .little)))
            default: throw fail("unknown metadata value type \(type)")
            }
        }
        var metadata: [(key: String, value: GGUFValue)] = []
        var keys = Set<String>()
        for _ in 0..<Int(kvCount) {
            let key = try string()
            guard keys.insert(key).inserted else { throw fail("metadata key '\(key)' appears twice") }
            metadata.append((key, try value(try r.read(UInt32.self, endianness: .little), depth: 0)))
        }
        var alignment = 32
        if let a = metadata.first(where: { $0.key == "general.alignment" })?.value {
            guard case .u32(let v) = a, v > 0, v & (v - 1) == 0 else { throw fail("general.alignment must be a u32 power of two") }
            alignment = Int(v)
        }
        var infos: [(name: String, dims: [Int], dtype: DType, offset: Int, at: Int)] = []
        var names = Set<String>()
        for _ in 0..<Int(tensorCount) {
            let at = r.offset
            let name = try string()
            guard names.insert(name).inserted else { throw fail("tensor '\(name)' appears twice") }
            let rank = try r.read(UInt32.self, endianness: .little)
            guard rank >= 1, rank <= 4 else { throw ModelError(file: file.path, location: .tensor(name), "has \(rank) dimensions (1…4 allowed)") }
            var ne: [Int] = []
            for _ in 0..<rank {
                let d = try r.read(UInt64.self, endianness: .little)
                guard let n = Int(exactly: d), n >= 0 else { throw ModelError(file: file.path, location: .tensor(name), "dimension \(d) is out of range") }
                ne.append(n)
            }
            let typeID = try r.read(UInt32.self, endianness: .little)
            guard let dtype = GGUFTensorType.dtype(for: typeID) else {
                throw ModelError(file: file.path, location: .tensor(name), "unknown or unsupported ggml type \(typeID)")
            }
            let rawOffset = try r.read(UInt64.self, endianness: .little)
            guard let offset = Int(exactly: rawOffset), offset % alignment == 0 else {
                throw ModelError(file: file.path, location: .tensor(name), "data offset \(rawOffset) is not a multiple of the alignment \(alignment)")
            }
            guard ne[0] % dtype.blockSize == 0 else {
                throw ModelError(file: file.path, location: .tensor(name), "rows of \(ne[0]) are not whole \(dtype.rawValue) blocks")
            }
            infos.append((name, ne.reversed(), dtype, offset, at))
        }
        let dataStart = GGUFWriter.padded(r.offset, alignment)
        guard dataStart <= bytes.count else { throw fail("tensor data section starts past the end of the file") }
        var tensors: [Tensor] = []
        for info in infos {
            let tensorInfo = TensorInfo(name: info.name, dtype: info.dtype, shape: Shape(info.dims))
            guard let size = tensorInfo.byteCount else {
                throw ModelError(file: file.path, location: .tensor(info.name), "shape \(tensorInfo.shape) overflows")
            }
            guard info.offset <= bytes.count - dataStart, size <= bytes.count - dataStart - info.offset else {
                throw ModelError(file: file.path, location: .tensor(info.name),
                                 "data at \(dataStart + info.offset)+\(size) runs past the end of the \(bytes.count)-byte file")
            }
            let start = dataStart + info.offset
            tensors.append(Tensor(info: tensorInfo, data: .mapped(file, range: start..<(start + size))))
        }
        return Contents(metadata: metadata, tensors: tensors, alignment: alignment)
    }
}
