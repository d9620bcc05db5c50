import BinaryIO
import ModelIR

/// Writes `pytorch_model.bin` in torch's zip format, streaming one tensor at a time, so that
/// `torch.load(path, weights_only=True)` returns the same tensors: the records PyTorch's own writer lays out
/// (`caffe2/serialize/inline_container.cc`, `PyTorchStreamWriter`): STORED records whose data starts on a
/// 64-byte boundary (an `FB` padding extra field), CRC-32 and sizes in data descriptors and the central
/// directory (PKWARE's APPNOTE.TXT), ZIP64 records when offsets or sizes need them.
public enum PyTorchWriter {
    struct CentralEntry {
        var name: [UInt8]
        var crc: UInt32
        var size: Int
        var headerOffset: Int
    }

    /// Writes `tensors` to `path` atomically.
    public static func write(_ tensors: [Tensor], to path: String, options: OutputOptions = .init()) throws {
        var seen = Set<String>()
        for tensor in tensors where !seen.insert(tensor.name).inserted {
            throw ModelError(location: .tensor(tensor.name), "appears twice; state dict names must be unique")
        }
        let pickle = try stateDictPickle(tensors.map(\.info))
        let archive = archiveName(for: path)
        let output = try AtomicFile(destination: path, existing: options.existing)
        do {
            var out = ByteWriter(streamingTo: output)
            var central: [CentralEntry] = []
            func record(_ name: String, _ body: (inout ByteWriter) throws -> UInt32) throws {
                let fullName = Array((archive + "/" + name).utf8)
                let headerOffset = out.offset
                try writeLocalHeader(name: fullName, to: &out)
                let start = out.offset
                let crc = try body(&out)
                let size = out.offset - start
                try writeDescriptor(crc: crc, size: size, large: size >= 0xFFFF_FFFF || headerOffset >= 0xFFFF_FFFF, to: &out)
                central.append(CentralEntry(name: fullName, crc: crc, size: size, headerOffset: headerOffset))
            }
            func small(_ bytes: [UInt8]) -> (inout ByteWriter) throws -> UInt32 {
                { out in
                    try out.writeBytes(bytes)
                    return bytes.withUnsafeBytes { zipCRC32($0) }
                }
            }
            try record("data.pkl", small(pickle))
            try record("byteorder", small(Array("little".utf8)))
            for (i, tensor) in tensors.enumerated() {
                try record("data/\(i)") { out in
                    // A whole record of a torch zip keeps its CRC-32: the copy checks it (on the other core), so the
                    // value is the one to store. Other mapped bytes are copied by the kernel while they are read here
                    // for the CRC on the other core, 4 MB at a time (each piece's pages released after); computed ones
                    // are computed once.
                    if tensor.data.isMapped, let file = out.file {
                        try out.flush()
                        if let stored = tensor.data.recordZipCRC32 {
                            try tensor.write(to: file)
                            return stored
                        }
                        var crc: UInt32 = 0
                        try Parallel.both({ try tensor.write(to: file) }) {
                            try tensor.withPieces(of: 4 << 20) { _, piece in crc = zipCRC32(piece, continuing: crc) }
                        }
                        return crc
                    }
                    var crc: UInt32 = 0
                    try tensor.withPieces(of: 8 << 20) { _, piece in
                        try out.writeBytes(piece)
                        crc = zipCRC32(piece, continuing: crc)
                    }
                    return crc
                }
                options.progress?(tensor.name, tensor.info.byteCount ?? 0)
            }
            try record("version", small(Array("3\n".utf8)))
            try writeCentralDirectory(central, to: &out)
            try out.commit()
        } catch {
            output.abandon()
            throw ModelError(error, file: path)
        }
    }

    /// torch names the archive folder after the file, without its folder and last extension.
    static func archiveName(for path: String) -> String {
        let name = splitPath(path).name
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name.isEmpty ? "archive" : name }
        let stem = String(name[..<dot])
        return stem.allSatisfy({ $0.isASCII && $0 != "/" }) ? stem : "archive"
    }

    static let dosDate: UInt16 = 0x21  // 1980-01-01

    /// A local header with the data-descriptor flag (CRC and sizes follow the data), padded with an `FB` extra
    /// field so the data starts on a 64-byte boundary.
    static func writeLocalHeader(name: [UInt8], to out: inout ByteWriter) throws {
        let pad = ByteWriter.padding(at: out.offset + 30 + name.count + 4, alignment: 64)
        try out.write(UInt32(0x0403_4B50), endianness: .little)
        for field: UInt16 in [20, 0x08, 0, 0, dosDate] { try out.write(field, endianness: .little) }  // version, flags, STORED, time, date
        for field: UInt32 in [0, 0, 0] { try out.write(field, endianness: .little) }  // CRC and sizes: in the descriptor
        try out.write(name.count, as: UInt16.self, endianness: .little)
        try out.write(4 + pad, as: UInt16.self, endianness: .little)
        try out.writeBytes(name)
        try out.writeUTF8("FB")
        try out.write(pad, as: UInt16.self, endianness: .little)
        try out.writeRepeating(UInt8(ascii: "Z"), count: pad)
    }

    /// The data descriptor after a record: signature, CRC-32, then both sizes (64-bit in a ZIP64 record).
    static func writeDescriptor(crc: UInt32, size: Int, large: Bool, to out: inout ByteWriter) throws {
        try out.write(UInt32(0x0807_4B50), endianness: .little)
        try out.write(crc, endianness: .little)
        for _ in 0..<2 {
            if large {
                try out.write(size, as: UInt64.self, endianness: .little)
            } else {
                try out.write(size, as: UInt32.self, endianness: .little)
            }
        }
    }

    /// The central directory, the ZIP64 end records when a count, size or offset needs them, and the end record.
    static func writeCentralDirectory(_ entries: [CentralEntry], to out: inout ByteWriter) throws {
        let start = out.offset
        for e in entries {
            let bigSize = e.size >= 0xFFFF_FFFF, bigOffset = e.headerOffset >= 0xFFFF_FFFF
            var extra = ByteWriter()
            if bigSize || bigOffset {
                try extra.write(UInt16(0x0001), endianness: .little)
                try extra.write(UInt16((bigSize ? 16 : 0) + (bigOffset ? 8 : 0)), endianness: .little)
                if bigSize { for _ in 0..<2 { try extra.write(e.size, as: UInt64.self, endianness: .little) } }
                if bigOffset { try extra.write(e.headerOffset, as: UInt64.self, endianness: .little) }
            }
            let version: UInt16 = bigSize || bigOffset ? 45 : 20
            try out.write(UInt32(0x0201_4B50), endianness: .little)
            for field: UInt16 in [version, version, 0x08, 0, 0, dosDate] { try out.write(field, endianness: .little) }
            try out.write(e.crc, endianness: .little)
            for _ in 0..<2 { try out.write(bigSize ? 0xFFFF_FFFF : e.size, as: UInt32.self, endianness: .little) }
            try out.write(e.name.count, as: UInt16.self, endianness: .little)
            try out.write(extra.bytes.count, as: UInt16.self, endianness: .little)
            for field: UInt16 in [0, 0, 0] { try out.write(field, endianness: .little) }  // comment, disk, internal attributes
            try out.write(UInt32(0), endianness: .little)  // external attributes
            try out.write(bigOffset ? 0xFFFF_FFFF : e.headerOffset, as: UInt32.self, endianness: .little)
            try out.writeBytes(e.name)
            try out.writeBytes(extra.bytes)
        }
        let size = out.offset - start
        let end = out.offset
        if entries.count >= 0xFFFF || start >= 0xFFFF_FFFF || size >= 0xFFFF_FFFF {
            try out.write(UInt32(0x0606_4B50), endianness: .little)  // ZIP64 end of central directory record
            try out.write(UInt64(44), endianness: .little)
            for field: UInt16 in [45, 45] { try out.write(field, endianness: .little) }
            for field: UInt32 in [0, 0] { try out.write(field, endianness: .little) }
            for value in [entries.count, entries.count, size, start] { try out.write(value, as: UInt64.self, endianness: .little) }
            try out.write(UInt32(0x0706_4B50), endianness: .little)  // ZIP64 end of central directory locator
            try out.write(UInt32(0), endianness: .little)
            try out.write(end, as: UInt64.self, endianness: .little)
            try out.write(UInt32(1), endianness: .little)
        }
        try out.write(UInt32(0x0605_4B50), endianness: .little)
        for field: UInt16 in [0, 0] { try out.write(field, endianness: .little) }
        for _ in 0..<2 { try out.write(min(entries.count, 0xFFFF), as: UInt16.self, endianness: .little) }
        try out.write(min(size, 0xFFFF_FFFF), as: UInt32.self, endianness: .little)
        try out.write(min(start, 0xFFFF_FFFF), as: UInt32.self, endianness: .little)
        try out.write(UInt16(0), endianness: .little)  // comment length
    }
}
