import BinaryIO
import ModelIR
import Pickle

/// Reads `torch.save` files, zip (torch ≥ 1.6) and legacy (0.4–1.5), without executing their pickles
/// (PyTorch's `torch/serialization.py`). Tensors point into the mapped file where their bytes
/// are stored contiguously; views with offsets or strides are gathered when read.
public enum PyTorchCheckpoint {
    /// The legacy format's first pickle: `pickle(0x1950A86A20F9469CFC6C)` with protocol 2.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    /// What was read.
    public struct Contents: Sendable {
        public var tensors: [Tensor]
        public var notes: [Note]
    }

    /// A storage a persistent id names: where its bytes are, its element type and count.
    struct Storage {
        var key: String
        var dtype: DType
        /// In elements of `dtype` (bytes for an untyped storage, converted on load).
        var count: Int
        var data: TensorData?
        var users: [String] = []
        /// Elements all views of this storage cover so far (`ReaderLimits.viewsPerStorage`).
        var viewedElements = 0
    }

    /// Reads the checkpoint at `path`.
    public static func read(path: String) throws -> Contents {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        defer { file.releasePages(in: 0..<file.count) }  // what parsing the archive and the pickle touched
        let head = file.withBytes(in: 0..<min(file.count, 512)) { Array($0) }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return try readZip(path: path, file: file) }
        if head.starts(with: legacyMagic) { return try readLegacy(path: path, file: file) }
        if head.count >= 262, Array(head[257..<262]) == Array("ustar".utf8) {
            throw ModelError(file: path, "PyTorch tar checkpoint (torch ≤ 0.1) is not supported; re-save it with a newer torch")
        }
        if head.starts(with: Array("PYTORCH1".utf8)) {
            throw ModelError(file: path, "PyTorch preview-release archive is not supported")
        }
        throw ModelError(file: path, "not a PyTorch checkpoint (neither zip nor legacy pickle magic)")
    }

    // MARK: - Zip

    static func readZip(path: String, file: MappedFile) throws -> Contents {
        let archive = try ZipArchive(path: path, file: file)
        guard let first = archive.names.first, let slash = first.firstIndex(of: "/") else {
            throw ModelError(file: path, "zip archive has no top-level folder; not a torch.save file")
        }
        let prefix = String(first[...slash])
        for name in archive.names where !name.hasPrefix(prefix) {
            throw ModelError(file: path, location: .entry("zip entry '\(name)'"), "is outside the archive folder '\(prefix)'")
        }
        if archive.entries[prefix + "constants.pkl"] != nil {
            throw ModelError(file: path, "TorchScript archive (torch.jit.save), not a torch.save checkpoint")
        }
        guard let pickleEntry = archive.entries[prefix + "data.pkl"] else {
            throw ModelError(file: path, "zip archive has no \(prefix)data.pkl")
        }
        var bigEndian = false
        if let order = archive.entries[prefix + "byteorder"] {
            let text = String(decoding: try archive.read(order, limit: 16).bytes, as: UTF8.self)
            switch text.trimmingCharacters(in: "\n ") {
            case "little": break
            case "big": bigEndian = true
            default: throw ModelError(file: path, location: .entry(order.name), "byteorder '\(text)' is neither little nor big")
            }
        }
        let pickleBytes = try archive.read(pickleEntry, limit: 1 << 30)
        var storages: [Storage] = []
        var storageIndex: [String: Int] = [:]
        let value = try pickleBytes.withBytes { bytes in
            try Unpickler.load(bytes, file: path, entry: pickleEntry.name, options: .init(allowedGlobals: torchAllowedGlobals)) { pid, offset in
                try persistent(pid, at: offset, file: path, entry: pickleEntry.name, legacy: false, storages: &storages, index: &storageIndex)
            }.value
        }
        for i in storages.indices {
            let name = prefix + "data/" + storages[i].key
            guard let record = archive.entries[name] else {
                throw ModelError(file: path, location: .entry(name), "storage '\(storages[i].key)' named by data.pkl has no record in the archive")
            }
            storages[i].data = try storageData(record, storage: storages[i], archive: archive, bigEndian: bigEndian)
        }
        var contents = try tensors(from: value, storages: &storages, file: path)
        if bigEndian { contents.notes.append("big-endian checkpoint: tensors are byte-swapped to little-endian") }
        return contents
    }

    static func storageData(_ record: ZipArchive.Entry, storage: Storage, archive: ZipArchive, bigEndian: Bool) throws -> TensorData {
        guard let expected = storage.dtype.byteCount(elements: storage.count), record.size == expected else {
            throw ModelError(file: archive.path, location: .entry(record.name),
                             "record of \(record.size) bytes does not hold \(storage.count) \(storage.dtype.rawValue) elements")
        }
        var data: TensorData
        if record.stored, let offset = record.dataOffset {
            let crc = record.crc, path = archive.path, name = record.name
            let checksum = RecordChecksum(update: { zipCRC32($1, continuing: $0) }, storedZipCRC32: crc) { sum in
                guard sum == crc else {
                    throw ModelError(file: path, location: .entry(name), "CRC-32 mismatch: the data is corrupt")
                }
            }
            data = .mapped(archive.file, range: offset..<(offset + record.size), checksum: checksum)
        } else {
            data = .cached { try archive.read(record, limit: .max) }  // inflated once, however many views slice it
        }
        if bigEndian, storage.dtype.blockBytes > 1 {
            let source = data, width = storage.dtype.blockBytes
            data = .producer {
                try source.withBytes { bytes in
                    let buffer = TensorBuffer(copying: bytes)
                    buffer.withMutableBytes { swapByteOrder($0, width: width) }
                    return buffer
                }
            }
        }
        return data
    }

    /// `('storage', storage_type, key, location, numel[, view_metadata])` → a storage index.
    static func persistent(
        _ pid: PickleValue, at offset: Int, file: String, entry: String?, legacy: Bool,
        storages: inout [Storage], index: inout [String: Int]
    ) throws -> PickleValue {
        func fail(_ reason: String) -> ModelError {
            ModelError(file: file, location: .entry((entry.map { $0 + " " } ?? "") + "offset \(offset)"), reason)
        }
        guard let items = pid.sequence, items.first?.stringValue == "storage" else {
            throw fail("persistent id \(pid) is not a storage reference")
        }
        guard items.count == (legacy ? 6 : 5) else { throw fail("storage reference has \(items.count) fields") }
        guard case .global(let type) = items[1] else { throw fail("storage type is not a global") }
        guard let key = items[2].stringValue ?? items[2].intValue.map(String.init), !key.isEmpty,
              key.allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLetter || $0 == "_") }) else {
            throw fail("storage key \(items[2]) is not a plain name")
        }
        guard let numel = items[4].intValue, numel >= 0 else { throw fail("storage size \(items[4]) is out of range") }
        if legacy, case .none = items[5] {} else if legacy { throw fail("storage views (legacy view_metadata) are not supported") }
        let dtype: DType
        var count = numel
        if type.name.hasSuffix("UntypedStorage") {
            dtype = .u8  // bytes; the tensor's dtype comes from _rebuild_tensor_v3
        } else if let typed = storageTypes[type.name] {
            dtype = typed
        } else {
            throw fail("storage type \(type.qualifiedName) is not supported")
        }
        guard dtype.byteCount(elements: count) != nil else { throw fail("storage of \(numel) elements overflows") }
        if let existing = index[key] {
            guard storages[existing].dtype == dtype, storages[existing].count == count else {
                throw fail("storage '\(key)' is referenced with two different types or sizes")
            }
            return .persistent(existing)
        }
        count = numel
        storages.append(Storage(key: key, dtype: dtype, count: count))
        index[key] = storages.count - 1
        return .persistent(storages.count - 1)
    }

    // MARK: - Legacy

    static func readLegacy(path: String, file: MappedFile) throws -> Contents {
        try file.withBytes { bytes in
            let options = Unpickler.Options(allowedGlobals: torchAllowedGlobals)
            var position = 0
            func next(_ what: String, persistent: Unpickler.PersistentLoader? = nil) throws -> PickleValue {
                let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
                do {
                    let (value, end) = try Unpickler.load(rest, file: path, entry: what, options: options, persistentLoad: persistent)
                    position += end
                    return value
                } catch var error as ModelError {
                    if case .entry(let text)? = error.location, let range = text.firstRange(of: "offset "),
                       let local = Int(text[range.upperBound...]) {
                        error.location = .entry("\(what) offset \(position + local)")
                    }
                    throw error
                }
            }
            _ = try next("magic pickle")
            guard try next("protocol pickle").intValue == 1001 else {
                throw ModelError(file: path, "legacy checkpoint protocol version is not 1001")
            }
            let sysInfo = try next("sys_info pickle")
            if case .dict(let info) = sysInfo, case .bool(false)? = info["little_endian"] {
                // The writer byte-swaps storages to little-endian on big-endian hosts: nothing to do.
            }
            var storages: [Storage] = []
            var storageIndex: [String: Int] = [:]
            let main = try next("main pickle") { pid, offset in
                try persistent(pid, at: offset, file: path, entry: "main pickle", legacy: true, storages: &storages, index: &storageIndex)
            }
            guard let keys = try next("storage keys pickle").sequence?.compactMap(\.stringValue) else {
                throw ModelError(file: path, "legacy storage key list is missing")
            }
            // Each storage's 8-byte count read maps a folio: released as the walk passes it.
            let behind = PagesBehind(file)
            defer { behind.release(upTo: file.count) }
            for key in keys {
                behind.release(upTo: position)
                guard let i = storageIndex[key] else {
                    throw ModelError(file: path, location: .offset(position), "storage '\(key)' is listed but never used")
                }
                guard bytes.count - position >= 8 else {
                    throw ModelError(file: path, location: .offset(position), "truncated: storage '\(key)' is missing")
                }
                let count = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: Int64.self))
                guard count == Int64(storages[i].count), let size = storages[i].dtype.byteCount(elements: Int(count)),
                      size <= bytes.count - position - 8 else {
                    throw ModelError(file: path, location: .offset(position),
                                     "storage '\(key)' of \(count) elements does not fit the \(bytes.count - position - 8) bytes left")
                }
                let start = position + 8
                storages[i].data = .mapped(file, range: start..<(start + size))
                position = start + size
            }
            for storage in storages where storage.data == nil {
                throw ModelError(file: path, "storage '\(storage.key)' has no data")
            }
            return try tensors(from: main, storages: &storages, file: path)
        }
    }
}


