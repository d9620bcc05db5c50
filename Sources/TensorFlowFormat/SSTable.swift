import BinaryIO
import ModelIR

/// The LevelDB-format table of a checkpoint's `.index` file (LevelDB's `doc/table_format.md`):
/// footer, index block, data blocks with masked-CRC32C trailers, prefix-compressed entries.
struct SSTable {
    /// One key/value pair; the value is a range of the mapped file (bundle tables are never compressed).
    struct Entry {
        var key: [UInt8]
        var value: Range<Int>
    }

    static let magic: UInt64 = 0xDB47_7524_8B80_FB57
    static let footerSize = 48
    static let trailerSize = 5

    let file: MappedFile

    /// Every entry of every data block, in key order. Block checksums are verified; keys must increase.
    func entries() throws -> [Entry] {
        guard file.count >= Self.footerSize else {
            throw fail(0, "file of \(file.count) bytes is too small for the 48-byte table footer")
        }
        let footerStart = file.count - Self.footerSize
        let indexHandle: (offset: Int, size: Int) = try file.withBytes(in: footerStart..<file.count) { bytes in
            var reader = ByteReader(bytes, path: file.path, baseOffset: footerStart)
            try reader.seek(to: 40)
            guard try reader.read(UInt64.self, endianness: .little) == Self.magic else {
                throw fail(file.count - 8, "bad table magic (not a TensorFlow checkpoint index)")
            }
            try reader.seek(to: 0)
            _ = try readHandle(&reader)  // metaindex: always empty in bundles
            return try readHandle(&reader)
        }
        var result: [Entry] = []
        var keyBudget = KeyBudget(limit: file.count.multipliedReportingOverflow(by: Self.keyBytesPerFileByte).partialValue + (1 << 20))
        // Data blocks follow each other in the file, each listed once (LevelDB's table builder writes them in
        // order): a block listed again, or overlapping another, is refused, so no block is checksummed or
        // parsed twice and the work stays linear in the file.
        var previousEnd = 0
        for handle in try blockEntries(indexHandle, what: "index block", keyBudget: &keyBudget) {
            let dataHandle: (offset: Int, size: Int) = try file.withBytes(in: handle.value) { bytes in
                var reader = ByteReader(bytes, path: file.path, baseOffset: handle.value.lowerBound)
                return try readHandle(&reader)
            }
            guard dataHandle.offset >= previousEnd else {
                throw fail(dataHandle.offset, "data block at \(dataHandle.offset) repeats or overlaps the block before it")
            }
            for entry in try blockEntries(dataHandle, what: "data block", keyBudget: &keyBudget) {
                if let last = result.last, !last.key.lexicographicallyPrecedes(entry.key) {
                    throw fail(entry.value.lowerBound, "keys are not in increasing order")
                }
                result.append(entry)
            }
            previousEnd = dataHandle.offset + dataHandle.size + Self.trailerSize
        }
        return result
    }

    /// How many key bytes the entries may spell out per byte of the file. Prefix compression lets a 3-byte entry
    /// repeat a long key, so the keys a file yields can outgrow it; TensorFlow's names share far less than this.
    static let keyBytesPerFileByte = 16

    /// The key bytes still allowed to be materialised.
    struct KeyBudget {
        var limit: Int
        var used = 0
    }

    private func fail(_ offset: Int, _ reason: String) -> ModelError {
        ModelError(file: file.path, location: .offset(offset), reason)
    }

    private func readHandle(_ reader: inout ByteReader) throws -> (offset: Int, size: Int) {
        let offset = try reader.readVarintInt(limit: file.count, "block offset")
        let size = try reader.readVarintInt(limit: file.count, "block size")
        return (offset, size)
    }

    /// The entries of the block at `handle`, after checking its bounds, type and checksum.
    private func blockEntries(_ handle: (offset: Int, size: Int), what: String, keyBudget: inout KeyBudget) throws -> [Entry] {
        let (offset, size) = handle
        guard offset <= file.count - Self.footerSize, size <= file.count - Self.footerSize - offset - Self.trailerSize else {
            throw fail(offset, "\(what) of \(size) bytes at \(offset) runs past the end of the table")
        }
        let trailer = (offset + size)..<(offset + size + Self.trailerSize)
        let (type, stored) = file.withBytes(in: trailer) { ($0[0], UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 1, as: UInt32.self))) }
        switch type {
        case 0: break
        case 1: throw fail(offset, "\(what) is Snappy-compressed, which ModelPort does not support (TensorFlow never writes it)")
        default: throw fail(trailer.lowerBound, "\(what) has unknown compression type \(type)")
        }
        let actual = file.withBytes(in: offset..<(offset + size + 1)) { CRC32C.mask(CRC32C.checksum($0)) }
        guard actual == stored else {
            throw fail(offset, "\(what) checksum mismatch (stored \(hex(stored)), computed \(hex(actual)))")
        }
        return try file.withBytes(in: offset..<(offset + size)) { try parseBlock($0, at: offset, what: what, keyBudget: &keyBudget) }
    }

    private func parseBlock(_ bytes: UnsafeRawBufferPointer, at base: Int, what: String, keyBudget: inout KeyBudget) throws -> [Entry] {
        guard bytes.count >= 4 else { throw fail(base, "\(what) of \(bytes.count) bytes is too small") }
        let restarts = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self)))
        guard restarts <= (bytes.count - 4) / 4 else { throw fail(base, "\(what) claims \(restarts) restart points") }
        let end = bytes.count - 4 * (restarts + 1)
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[0..<end]), path: file.path, baseOffset: base)
        var entries: [Entry] = []
        var key: [UInt8] = []
        while reader.remaining > 0 {
            let entryStart = reader.offset
            let shared = try reader.readVarintInt(maxBytes: 5, limit: key.count, "shared key length")
            let unshared = try reader.readVarintInt(maxBytes: 5, limit: reader.remaining, "key length")
            let valueLength = try reader.readVarintInt(maxBytes: 5, limit: reader.remaining, "value length")
            key.removeSubrange(shared...)
            key.append(contentsOf: try reader.readBytes(unshared))
            let valueStart = base + reader.offset
            _ = try reader.readBytes(valueLength)
            guard reader.offset > entryStart else { throw fail(base + entryStart, "empty entry") }
            keyBudget.used += key.count
            guard keyBudget.used <= keyBudget.limit else {
                throw fail(base + entryStart, "keys spell out more than \(keyBudget.limit) bytes (\(Self.keyBytesPerFileByte)× the file)")
            }
            entries.append(Entry(key: key, value: valueStart..<(valueStart + valueLength)))
        }
        return entries
    }
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
