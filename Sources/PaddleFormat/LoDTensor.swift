import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelIR
import SwiftProtobuf

/// Paddle's LoDTensor (DenseTensor) records (Paddle's `SerializeToStream` in `lod_tensor.cc`): the `save` op writes one per file, the
/// `save_combine` op (`__params__`, `*.pdiparams`) writes them back to back with no names, no count and no padding.
///
/// Record: u32 version 0, u64 LoD level count (each level: u64 byte count + offsets), u32 tensor version 0, i32
/// descriptor length, a `VarType.TensorDesc` protobuf (data type + dims), then the raw little-endian data.
/// Tensors stay mapped: nothing is copied until written.
public enum LoDTensor {
    /// One record's tensor description and where its data lies in the file.
    public struct Record: Sendable {
        public var dtype: DType
        public var shape: Shape
        public var data: Range<Int>
    }

    /// Paddle `VarType.Type` codes of element types → IR types.
    static let types: [Int32: DType] = [
        0: .bool, 1: .i16, 2: .i32, 3: .i64, 4: .f16, 5: .f32, 6: .f64, 20: .u8, 21: .i8, 22: .bf16,
        32: .f8E4M3, 33: .f8E5M2, 37: .u32, 38: .u64,
    ]

    /// The record starting at `offset` of `file` (`name` for error messages).
    public static func record(in file: MappedFile, at offset: Int, name: String?) throws -> Record {
        func fail(_ at: Int, _ reason: String) -> ModelError {
            if let name { return ModelError(file: file.path, location: .tensor(name), "\(reason) (record at offset \(offset))") }
            return ModelError(file: file.path, location: .offset(at), reason)
        }
        return try file.withBytes { bytes in
            var reader = ByteReader(bytes, path: file.path)
            do { try reader.seek(to: offset) } catch { throw fail(offset, "record starts past the end of the \(file.count)-byte file") }
            func u32() throws -> UInt32 { try reader.read(UInt32.self, endianness: .little) }
            func u64() throws -> UInt64 { try reader.read(UInt64.self, endianness: .little) }
            do {
                let version = try u32()
                guard version == 0 else { throw fail(offset, "LoDTensor version \(version), expected 0") }
                let levels = try u64()
                guard levels <= 16 else { throw fail(offset, "\(levels) LoD levels is not a parameter") }
                for _ in 0..<levels {
                    let size = try u64()
                    guard size % 8 == 0, size <= UInt64(reader.remaining) else {
                        throw fail(reader.offset, "LoD level of \(size) bytes does not fit the file")
                    }
                    _ = try reader.readBytes(Int(size))
                }
                let tensorVersion = try u32()
                guard tensorVersion == 0 else { throw fail(offset, "tensor version \(tensorVersion), expected 0") }
                let descSize = try reader.read(Int32.self, endianness: .little)
                guard descSize >= 0, Int(descSize) <= reader.remaining, descSize <= 1 << 20 else {
                    throw fail(reader.offset - 4, "tensor descriptor of \(descSize) bytes does not fit the file")
                }
                let descBytes = try reader.readBytes(Int(descSize))
                let desc: Paddle_Framework_Proto_VarType.TensorDesc
                do { desc = try Paddle_Framework_Proto_VarType.TensorDesc(serializedBytes: Array(descBytes), partial: true) } catch {
                    throw fail(reader.offset - Int(descSize), "tensor descriptor does not decode: \(error)")
                }
                guard desc.hasDataType, let dtype = types[desc.dataType] else {
                    throw fail(offset, "unsupported Paddle data type \(desc.hasDataType ? String(desc.dataType) : "(none)")")
                }
                guard desc.dims.count <= 8, desc.dims.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else {
                    throw fail(offset, "descriptor dims \(desc.dims) are not a tensor shape")
                }
                let shape = Shape(desc.dims.map { Int($0) })
                guard let count = TensorInfo(name: name ?? "", dtype: dtype, shape: shape).byteCount else {
                    throw fail(offset, "shape \(shape) of \(dtype.rawValue) overflows")
                }
                guard count <= reader.remaining else {
                    throw fail(reader.offset, "\(dtype.rawValue) \(shape) needs \(count) bytes, only \(reader.remaining) left in the file")
                }
                return Record(dtype: dtype, shape: shape, data: reader.offset..<(reader.offset + count))
            } catch let error as BinaryIOError {
                throw fail(offset, "record is truncated: \(error.reason)")
            }
        }
    }

    /// A folder of per-variable files (`save_vars`, `save_persistables`, PaddleHub 1.x `assets/params/`): each file
    /// one record named by the file. A leading `@HUB_<module>@` prefix is stripped from the names.
    public static func readFolder(_ folder: String, skipping: Set<String> = []) throws -> (tensors: [Tensor], notes: [Note]) {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") && !skipping.contains($0) }.sorted()
        var tensors: [Tensor] = []
        var prefixes = Set<String>()
        for file in names {
            var info = stat()
            guard stat(folder + "/" + file, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR else { continue }
            if let prefix = strippingHubPrefix(file).prefix { prefixes.insert(prefix) }
            tensors.append(try variableFile(folder + "/" + file, name: file))
        }
        let notes = prefixes.sorted().map { Note(.naming, "removed the PaddleHub prefix \($0) from the variable names") }
        return (tensors, notes)
    }

    /// The one record of a per-variable file, as a mapped tensor named `name` (its `@HUB_…@` prefix removed).
    public static func variableFile(_ path: String, name: String) throws -> Tensor {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        let record = try record(in: mapped, at: 0, name: nil)
        mapped.releasePages(in: 0..<min(mapped.count, 4096))  // the header's folio
        guard record.data.upperBound == mapped.count else {
            throw ModelError(file: path, location: .offset(record.data.upperBound), "\(mapped.count - record.data.upperBound) bytes after the record (one variable per file)")
        }
        return Tensor(name: strippingHubPrefix(name).name, dtype: record.dtype, shape: record.shape, data: .mapped(mapped, range: record.data))
    }

    /// `@HUB_name@var` → (`var`, `@HUB_name@`).
    public static func strippingHubPrefix(_ name: String) -> (name: String, prefix: String?) {
        guard name.hasPrefix("@HUB_"), let end = name.dropFirst(5).firstIndex(of: "@") else { return (name, nil) }
        let after = name.index(after: end)
        return (String(name[after...]), String(name[..<after]))
    }

    /// A combined file (`*.pdiparams`, `__params__`): one record per name, in the given order, and nothing after.
    public static func readCombined(_ path: String, names: [String]) throws -> [Tensor] {
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        var offset = 0
        var tensors: [Tensor] = []
        let behind = PagesBehind(mapped)  // each record's header read maps a folio: released as the walk passes it
        defer { behind.release(upTo: mapped.count) }
        for (i, name) in names.enumerated() {
            behind.release(upTo: offset)
            guard offset < mapped.count else {
                throw ModelError(file: path, "holds \(i) records, but the program names \(names.count) persistable variables (next: \(name))")
            }
            let record = try record(in: mapped, at: offset, name: name)
            tensors.append(Tensor(name: strippingHubPrefix(name).name, dtype: record.dtype, shape: record.shape,
                                  data: .mapped(mapped, range: record.data)))
            offset = record.data.upperBound
        }
        guard offset == mapped.count else {
            throw ModelError(file: path, location: .offset(offset), "\(mapped.count - offset) bytes after the \(names.count) records the program names (more records than variables)")
        }
        return tensors
    }

    /// Whether a file starts like a record of a parameter (16 zero bytes: versions and LoD level 0).
    public static func looksLikeRecord(_ path: String) -> Bool {
        guard let file = try? MappedFile(path: path), file.count >= 20 else { return false }
        return file.withBytes(in: 0..<20) { head in head.prefix(16).allSatisfy { $0 == 0 } && head[16...].contains { $0 != 0 } }
    }
}
