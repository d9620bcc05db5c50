import FuzzSupport

/// A PyTorch checkpoint, zip (torch.save since 1.6) or legacy (pickle + storages), as `pytorch_model.bin`. The
/// input is also wrapped as `data.pkl` of a zip checkpoint with sixteen 4 KiB storages `data/0` … `data/15`
/// (zip entries are CRC-checked, so a mutated `data.pkl` inside a seed archive would stop at its checksum).
let folder = Fuzz.scratch("pytorch")

@_cdecl("fuzz_pytorch_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    Fuzz.write(input, to: folder + "/pytorch_model.bin")
    Fuzz.load(folder + "/pytorch_model.bin")
    if !input.starts(with: [0x50, 0x4B]) {
        let storage = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let archive = StoredZip.archive(
            [("archive/data.pkl", Array(input)), ("archive/byteorder", Array("little".utf8)), ("archive/version", Array("3\n".utf8))]
                + (0..<16).map { ("archive/data/\($0)", storage) })
        archive.withUnsafeBytes { Fuzz.write($0, to: folder + "/wrapped.bin") }
        Fuzz.load(folder + "/wrapped.bin")
    }
    return 0
}

/// A zip of STORED entries (PKWARE APPNOTE.TXT 4.3: local headers, central directory, end record), as torch.save
/// writes them apart from its 64-byte alignment padding.
enum StoredZip {
    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func archive(_ entries: [(name: String, data: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        func le16(_ v: Int, _ to: inout [UInt8]) { to += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func le32(_ v: UInt32, _ to: inout [UInt8]) { for i in 0..<4 { to.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        for (name, data) in entries {
            let offset = UInt32(out.count), crc = crc32(data), nameBytes = Array(name.utf8)
            le32(0x0403_4B50, &out); le16(20, &out); le16(0, &out); le16(0, &out); le16(0, &out); le16(0, &out)
            le32(crc, &out); le32(UInt32(data.count), &out); le32(UInt32(data.count), &out)
            le16(nameBytes.count, &out); le16(0, &out); out += nameBytes; out += data
            le32(0x0201_4B50, &central); le16(20, &central); le16(20, &central); le16(0, &central); le16(0, &central)
            le16(0, &central); le16(0, &central); le32(crc, &central); le32(UInt32(data.count), &central)
            le32(UInt32(data.count), &central); le16(nameBytes.count, &central); le16(0, &central); le16(0, &central)
            le16(0, &central); le16(0, &central); le32(0, &central); le32(offset, &central); central += nameBytes
        }
        let centralOffset = UInt32(out.count)
        out += central
        le32(0x0605_4B50, &out); le16(0, &out); le16(0, &out); le16(entries.count, &out); le16(entries.count, &out)
        le32(UInt32(central.count), &out); le32(centralOffset, &out); le16(0, &out)
        return out
    }
}
