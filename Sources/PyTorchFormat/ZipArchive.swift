import BinaryIO
import CLibzip
import CZlib
import ModelIR
import Synchronization

/// A read-only zip archive (the container of `torch.save` files: `torch/serialization.py`, written by
/// `caffe2/serialize/inline_container.cc`; PKWARE's APPNOTE.TXT for the records).
///
/// libzip opens and checks the archive (central directory consistency), lists entries, and inflates
/// deflated ones with their CRC verified. For STORED entries ModelPort reads the local header itself to
/// find where the data starts, so tensors can stay ranges of the memory-mapped file (zero copy).
///
/// `@unchecked Sendable`: the entry table is built in `init` and not changed after; libzip's handle is not safe to use
/// from two threads at once, so every read through it holds `libzip`.
final class ZipArchive: @unchecked Sendable {
    struct Entry: Sendable {
        let index: UInt64
        let name: String
        let size: Int
        let compressedSize: Int
        let stored: Bool
        let crc: UInt32
        /// Where the data of a STORED entry starts in the file.
        var dataOffset: Int?
    }

    let path: String
    let file: MappedFile
    private let handle: OpaquePointer
    private let libzip = Mutex<Void>(())
    private(set) var entries: [String: Entry] = [:]
    private(set) var names: [String] = []

    init(path: String, file: MappedFile) throws {
        self.path = path
        self.file = file
        // libzip is loaded here, not linked (Sources/CLibzip/zip.c).
        guard modelport_zip_load() == 0 else { throw ModelError(kind: .unsupported, file: path, String(cString: modelport_zip_load_error())) }
        var error: Int32 = 0
        guard let archive = modelport_zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &error) else {
            var details = zip_error_t()
            modelport_zip_error_init_with_code(&details, error)
            defer { modelport_zip_error_fini(&details) }
            throw ModelError(file: path, "not a readable zip archive: \(String(cString: modelport_zip_error_strerror(&details)))")
        }
        handle = archive
        let count = modelport_zip_get_num_entries(archive, 0)
        guard count >= 0, count <= ReaderLimits.current.maxTensors else {
            throw ModelError(kind: .limitExceeded, file: path, "zip archive lists \(count) entries (limit \(ReaderLimits.current.maxTensors))")
        }
        for i in 0..<UInt64(count) {
            var stat = zip_stat_t()
            modelport_zip_stat_init(&stat)
            guard modelport_zip_stat_index(archive, i, 0, &stat) == 0, let rawName = stat.name else {
                throw ModelError(file: path, location: .entry("zip entry \(i)"), "cannot be read: \(lastError())")
            }
            let name = String(cString: rawName)
            let components = name.split(separator: "/", omittingEmptySubsequences: false)
            guard !name.hasPrefix("/"), !components.contains(".."), !name.contains("\\") else {
                throw ModelError(file: path, location: .entry("zip entry '\(name)'"), "unsafe entry name (absolute or with '..')")
            }
            guard let size = Int(exactly: stat.size), let compressed = Int(exactly: stat.comp_size), compressed <= file.count else {
                throw ModelError(file: path, location: .entry(name), "entry size out of range")
            }
            // Deflate expands at most ~1032:1, so a larger claim is a lie that would make us allocate for nothing.
            guard compressed.multipliedReportingOverflow(by: 1032).partialValue >= size || size <= 1 << 16 else {
                throw ModelError(file: path, location: .entry(name), "claims \(size) bytes from \(compressed) compressed bytes")
            }
            let method = Int32(stat.comp_method)
            guard method != ZIP_CM_STORE || size == compressed else {
                throw ModelError(file: path, location: .entry(name), "stored entry claims \(size) bytes but holds \(compressed)")
            }
            guard method == ZIP_CM_STORE || method == ZIP_CM_DEFLATE else {
                throw ModelError(file: path, location: .entry(name), "compression method \(method) is not supported (stored or deflate only)")
            }
            guard stat.encryption_method == UInt16(ZIP_EM_NONE) else {
                throw ModelError(file: path, location: .entry(name), "encrypted entries are not supported")
            }
            entries[name] = Entry(index: i, name: name, size: size, compressedSize: compressed,
                                  stored: method == ZIP_CM_STORE, crc: stat.crc)
            names.append(name)
        }
        try locateStoredData()
    }

    deinit { modelport_zip_discard(handle) }

    private func lastError() -> String { String(cString: modelport_zip_strerror(handle)) }

    /// The data of an entry, inflated and CRC-checked by libzip (for small records and deflated storages).
    func read(_ entry: Entry, limit: Int = 1 << 30) throws -> TensorBuffer {
        try libzip.withLock { _ in try readHoldingLock(entry, limit: limit) }
    }

    private func readHoldingLock(_ entry: Entry, limit: Int) throws -> TensorBuffer {
        guard entry.size <= limit else {
            throw ModelError(file: path, location: .entry(entry.name), "record of \(entry.size) bytes exceeds the \(limit)-byte limit")
        }
        guard let opened = modelport_zip_fopen_index(handle, entry.index, 0) else {
            throw ModelError(file: path, location: .entry(entry.name), "cannot open: \(lastError())")
        }
        defer { modelport_zip_fclose(opened) }
        // A highly compressed entry may lie about its size: inflate it once without keeping the bytes before
        // allocating what it claims, so a small file cannot make us reserve gigabytes.
        if !entry.stored, entry.size > 1 << 24, entry.size / 16 > entry.compressedSize {
            try verifyInflatedSize(entry)
        }
        let buffer = TensorBuffer(count: entry.size)
        var done = 0
        try buffer.withMutableBytes { bytes in
            while done < entry.size {
                let n = modelport_zip_fread(opened, bytes.baseAddress! + done, UInt64(entry.size - done))
                guard n > 0 else {
                    throw ModelError(file: path, location: .entry(entry.name), "read failed: \(String(cString: modelport_zip_file_strerror(opened)))")
                }
                done += Int(n)
            }
            // Reading to the end lets libzip compare the CRC.
            var probe: UInt8 = 0
            guard modelport_zip_fread(opened, &probe, 1) == 0 else {
                throw ModelError(file: path, location: .entry(entry.name), "data does not match its size or checksum")
            }
        }
        return buffer
    }

    /// Inflates `entry` into a small scratch buffer and checks that it yields exactly the size it claims.
    private func verifyInflatedSize(_ entry: Entry) throws {
        guard let opened = modelport_zip_fopen_index(handle, entry.index, 0) else {
            throw ModelError(file: path, location: .entry(entry.name), "cannot open: \(lastError())")
        }
        defer { modelport_zip_fclose(opened) }
        var scratch = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            let n = scratch.withUnsafeMutableBytes { modelport_zip_fread(opened, $0.baseAddress!, UInt64($0.count)) }
            guard n >= 0 else {
                throw ModelError(file: path, location: .entry(entry.name), "read failed: \(String(cString: modelport_zip_file_strerror(opened)))")
            }
            if n == 0 { break }
            total += Int(n)
            guard total <= entry.size else { break }
        }
        guard total == entry.size else {
            throw ModelError(file: path, location: .entry(entry.name), "claims \(entry.size) bytes but inflates to \(total)")
        }
    }

    /// Finds the data offsets of STORED entries from the central directory and their local headers.
    private func locateStoredData() throws {
        let offsets = try centralDirectoryOffsets()
        for (name, entry) in entries where entry.stored {
            guard let header = offsets[name] else {
                throw ModelError(file: path, location: .entry(name), "missing from the central directory")
            }
            // Each header's page is released once read: the kernel may map a whole large page-cache folio (megabytes)
            // for these few bytes, and a checkpoint has hundreds of entries.
            defer { if header >= 0, header < file.count { file.releasePages(in: header..<min(file.count, header + 4096)) } }
            let data: Int = try file.withBytes { bytes in
                guard header <= bytes.count - 30 else { throw ModelError(file: path, location: .entry(name), "local header lies outside the file") }
                var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[header...]), path: path, baseOffset: header)
                guard try reader.read(UInt32.self, endianness: .little) == 0x0403_4B50 else {
                    throw ModelError(file: path, location: .entry(name), "bad local header signature")
                }
                try reader.seek(to: 26)
                let nameLength = Int(try reader.read(UInt16.self, endianness: .little))
                let extraLength = Int(try reader.read(UInt16.self, endianness: .little))
                return header + 30 + nameLength + extraLength
            }
            guard data <= file.count, entry.size <= file.count - data else {
                throw ModelError(file: path, location: .entry(name), "data runs past the end of the file")
            }
            entries[name]?.dataOffset = data
        }
    }

    /// Name → local header offset, from the (ZIP64-aware) central directory.
    private func centralDirectoryOffsets() throws -> [String: Int] {
        try file.withBytes { bytes in
            let count = bytes.count
            func u16(_ at: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
            func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
            func u64(_ at: Int) -> Int? { Int(exactly: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))) }
            var eocd = -1
            var at = count - 22
            while at >= max(0, count - 22 - 65_535) {
                if u32(at) == 0x0605_4B50 { eocd = at; break }
                at -= 1
            }
            guard eocd >= 0 else { throw ModelError(file: path, "zip end-of-central-directory record not found") }
            var entriesTotal = u16(eocd + 10)
            var directory = u32(eocd + 16)
            if (entriesTotal == 0xFFFF || directory == 0xFFFF_FFFF), eocd >= 20, u32(eocd - 20) == 0x0706_4B50,
               let record = u64(eocd - 20 + 8), record <= count - 56, u32(record) == 0x0606_4B50 {
                entriesTotal = u64(record + 32) ?? 0
                directory = u64(record + 48) ?? -1
            }
            guard directory >= 0, directory <= count else { throw ModelError(file: path, "central directory offset out of range") }
            var offsets: [String: Int] = [:]
            var position = directory
            for _ in 0..<entriesTotal {
                guard position <= count - 46, u32(position) == 0x0201_4B50 else {
                    throw ModelError(file: path, location: .offset(position), "bad central directory entry")
                }
                let nameLength = u16(position + 28), extraLength = u16(position + 30), commentLength = u16(position + 32)
                var local = u32(position + 42)
                let compressed32 = u32(position + 20), size32 = u32(position + 24)
                guard position + 46 + nameLength + extraLength + commentLength <= count else {
                    throw ModelError(file: path, location: .offset(position), "central directory entry runs past the end")
                }
                let name = String(decoding: bytes[(position + 46)..<(position + 46 + nameLength)], as: UTF8.self)
                if local == 0xFFFF_FFFF {  // ZIP64 extra: sizes first when their 32-bit slots overflow
                    var extra = position + 46 + nameLength
                    let end = extra + extraLength
                    while extra + 4 <= end {
                        let id = u16(extra), length = u16(extra + 2)
                        if id == 0x0001 {
                            var field = extra + 4
                            if size32 == 0xFFFF_FFFF { field += 8 }
                            if compressed32 == 0xFFFF_FFFF { field += 8 }
                            if field + 8 <= extra + 4 + length, let value = u64(field) { local = value }
                        }
                        extra += 4 + length
                    }
                }
                offsets[name] = local
                position += 46 + nameLength + extraLength + commentLength
            }
            return offsets
        }
    }
}

/// The standard zip CRC-32 (zlib's), continuing from `crc`. A large buffer is checksummed in 8 MB parts over the
/// cores and the parts joined with zlib's `crc32_combine` (the CRC of a concatenation from the CRCs of its halves).
func zipCRC32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    Parallel.checksum(of: bytes, continuing: crc, serial: { serialCRC32($0, continuing: $1) }, initial: 0) {
        UInt32(truncatingIfNeeded: crc32_combine(UInt($0), UInt($1), off_t($2)))
    }
}

private func serialCRC32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
    var state = ~crc
    var offset = foldZipCRC32(&state, bytes)  // whole 16-byte blocks by carry-less multiplication, where it can
    var value = UInt(~state)
    while offset < bytes.count {
        let chunk = min(bytes.count - offset, Int(UInt32.max))
        value = crc32(value, base.assumingMemoryBound(to: UInt8.self) + offset, UInt32(chunk))
        offset += chunk
    }
    return UInt32(truncatingIfNeeded: value)
}
