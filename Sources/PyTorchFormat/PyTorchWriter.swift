import BinaryIO
import ModelIR

/// Writes `pytorch_model.bin` in torch's zip format, streaming one tensor at a time, so that
/// `torch.load(path, weights_only=True)` returns the same tensors (§2.7): STORED records whose data starts
/// on a 64-byte boundary (an `FB` padding extra field), CRC-32 and sizes in data descriptors and the
/// central directory, ZIP64 records when offsets or sizes need them.
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
        let pickle = try PickleWriter.stateDict(tensors.map(\.info))
        let archive = archiveName(for: path)
        let output = try AtomicFile(destination: path, existing: options.existing)
        do {
            var central: [CentralEntry] = []
            func record(_ name: String, _ body: (AtomicFile) throws -> UInt32) throws {
                let fullName = Array((archive + "/" + name).utf8)
                let headerOffset = output.bytesWritten
                try output.write(localHeader(name: fullName, at: headerOffset))
                let start = output.bytesWritten
                let crc = try body(output)
                let size = output.bytesWritten - start
                try output.write(descriptor(crc: crc, size: size, large: size >= 0xFFFF_FFFF || headerOffset >= 0xFFFF_FFFF))
                central.append(CentralEntry(name: fullName, crc: crc, size: size, headerOffset: headerOffset))
            }
            func small(_ bytes: [UInt8]) -> (AtomicFile) throws -> UInt32 {
                { file in
                    try file.write(bytes)
                    return bytes.withUnsafeBytes { zipCRC32($0) }
                }
            }
            try record("data.pkl", small(pickle))
            try record("byteorder", small(Array("little".utf8)))
            for (i, tensor) in tensors.enumerated() {
                try record("data/\(i)") { file in
                    try tensor.withBytes { bytes in
                        try file.write(bytes)
                        return zipCRC32(bytes)
                    }
                }
                options.progress?(tensor.name, tensor.info.byteCount ?? 0)
            }
            try record("version", small(Array("3\n".utf8)))
            try output.write(centralDirectory(central, at: output.bytesWritten))
            try output.commit()
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

    static func le16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { Array($0) } }
    static func le32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { Array($0) } }
    static func le64(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(v).littleEndian) { Array($0) } }

    static let dosDate = 0x21  // 1980-01-01

    /// A local header with the data-descriptor flag, padded so the data starts on a 64-byte boundary.
    static func localHeader(name: [UInt8], at offset: Int) -> [UInt8] {
        let start = offset + 30 + name.count + 4
        let pad = (64 - start % 64) % 64
        var out = le32(0x0403_4B50) + le16(20) + le16(0x08) + le16(0) + le16(0) + le16(dosDate)
        out += le32(0) + le32(0) + le32(0) + le16(name.count) + le16(4 + pad) + name
        out += [UInt8(ascii: "F"), UInt8(ascii: "B")] + le16(pad) + [UInt8](repeating: UInt8(ascii: "Z"), count: pad)
        return out
    }

    static func descriptor(crc: UInt32, size: Int, large: Bool) -> [UInt8] {
        le32(0x0807_4B50) + le32(Int(crc)) + (large ? le64(size) + le64(size) : le32(size) + le32(size))
    }

    static func centralDirectory(_ entries: [CentralEntry], at start: Int) -> [UInt8] {
        var out: [UInt8] = []
        for e in entries {
            let bigSize = e.size >= 0xFFFF_FFFF, bigOffset = e.headerOffset >= 0xFFFF_FFFF
            var extra: [UInt8] = []
            if bigSize || bigOffset {
                var fields: [UInt8] = []
                if bigSize { fields += le64(e.size) + le64(e.size) }
                if bigOffset { fields += le64(e.headerOffset) }
                extra = le16(0x0001) + le16(fields.count) + fields
            }
            out += le32(0x0201_4B50) + le16(bigSize || bigOffset ? 45 : 20) + le16(bigSize || bigOffset ? 45 : 20)
            out += le16(0x08) + le16(0) + le16(0) + le16(dosDate) + le32(Int(e.crc))
            out += le32(bigSize ? 0xFFFF_FFFF : e.size) + le32(bigSize ? 0xFFFF_FFFF : e.size)
            out += le16(e.name.count) + le16(extra.count) + le16(0) + le16(0) + le16(0) + le32(0)
            out += le32(bigOffset ? 0xFFFF_FFFF : e.headerOffset) + e.name + extra
        }
        let size = out.count
        let end = start + size
        if entries.count >= 0xFFFF || start >= 0xFFFF_FFFF || size >= 0xFFFF_FFFF {
            out += le32(0x0606_4B50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
            out += le64(entries.count) + le64(entries.count) + le64(size) + le64(start)
            out += le32(0x0706_4B50) + le32(0) + le64(end) + le32(1)
        }
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(min(entries.count, 0xFFFF)) + le16(min(entries.count, 0xFFFF))
        out += le32(min(size, 0xFFFF_FFFF)) + le32(min(start, 0xFFFF_FFFF)) + le16(0)
        return out
    }
}
