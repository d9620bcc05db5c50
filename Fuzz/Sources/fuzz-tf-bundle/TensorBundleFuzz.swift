import BinaryIO
import FuzzSupport

/// A TensorFlow checkpoint's `.index` (SSTable of BundleEntryProtos: dtype, shape, shard, offset, size, CRC32C,
/// slices), beside the real data shards of Samples/tensorflow/bert-tiny-tf1 (one shard) and bert-tiny-sharded (two),
/// read as `modelport inspect folder/model.ckpt` reads it. Block checksums are recomputed first (see
/// `fixingBlockChecksums`), so mutations reach the entries instead of stopping at the checksum; the input as given is
/// read too.
let folder: String = {
    let folder = Fuzz.scratch("tf-bundle")
    Fuzz.copySample("tensorflow/bert-tiny-tf1/bert_model.ckpt.data-00000-of-00001", to: folder + "/model.ckpt.data-00000-of-00001")
    Fuzz.copySample("tensorflow/bert-tiny-sharded/bert_model.ckpt.data-00000-of-00002", to: folder + "/model.ckpt.data-00000-of-00002")
    Fuzz.copySample("tensorflow/bert-tiny-sharded/bert_model.ckpt.data-00001-of-00002", to: folder + "/model.ckpt.data-00001-of-00002")
    Fuzz.copySample("tensorflow/bert-tiny-tf1/bert_config.json", to: folder + "/bert_config.json")
    return folder
}()

@_cdecl("fuzz_tf_bundle_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: start, count: count)
    Fuzz.write(input, to: folder + "/model.ckpt.index")
    Fuzz.load(folder + "/model.ckpt")
    var fixed = Array(input)
    if fixingBlockChecksums(&fixed) {
        fixed.withUnsafeBytes { Fuzz.write($0, to: folder + "/model.ckpt.index") }
        Fuzz.load(folder + "/model.ckpt")
    }
    return 0
}

/// Rewrites the masked-CRC32C trailer of the index block and of every data block it names (LevelDB table format:
/// footer with two block handles, blocks followed by a type byte and the masked CRC of block + type). True when
/// something changed. Defensive throughout: the input is arbitrary.
func fixingBlockChecksums(_ bytes: inout [UInt8]) -> Bool {
    let footerSize = 48, trailerSize = 5
    guard bytes.count >= footerSize else { return false }
    let tableEnd = bytes.count - footerSize
    func varint(_ position: inout Int, limit: Int) -> Int? {
        var value = 0, shift = 0
        while position < limit, shift < 63 {
            let byte = bytes[position]
            position += 1
            value |= Int(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value >= 0 ? value : nil }
            shift += 7
        }
        return nil
    }
    var changed = false
    func fix(offset: Int, size: Int) {
        guard offset >= 0, size >= 0, offset <= tableEnd, size <= tableEnd - offset - trailerSize else { return }
        let crc = CRC32C.mask(CRC32C.checksum(Array(bytes[offset..<(offset + size + 1)])))
        for i in 0..<4 {
            let byte = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))
            if bytes[offset + size + 1 + i] != byte { bytes[offset + size + 1 + i] = byte; changed = true }
        }
    }
    var position = tableEnd
    guard varint(&position, limit: bytes.count) != nil, varint(&position, limit: bytes.count) != nil,
          let indexOffset = varint(&position, limit: bytes.count), let indexSize = varint(&position, limit: bytes.count),
          indexOffset <= tableEnd, indexSize >= 4, indexSize <= tableEnd - indexOffset - trailerSize else { return false }
    // The index block's entries: shared, unshared, value length varints, key bytes, value = a data block handle.
    let restartsAt = indexOffset + indexSize - 4
    let restarts = Int(bytes[restartsAt]) | Int(bytes[restartsAt + 1]) << 8 | Int(bytes[restartsAt + 2]) << 16 | Int(bytes[restartsAt + 3]) << 24
    let entriesEnd = restartsAt - 4 * min(restarts, (indexSize - 4) / 4)
    var entry = indexOffset
    var handles = 0
    while entry < entriesEnd, handles < 10_000 {
        guard varint(&entry, limit: entriesEnd) != nil, let unshared = varint(&entry, limit: entriesEnd),
              let valueLength = varint(&entry, limit: entriesEnd), unshared <= entriesEnd - entry else { break }
        entry += unshared
        guard valueLength <= entriesEnd - entry else { break }
        var value = entry
        if let offset = varint(&value, limit: entry + valueLength), let size = varint(&value, limit: entry + valueLength) {
            fix(offset: offset, size: size)
        }
        entry += valueLength
        handles += 1
    }
    fix(offset: indexOffset, size: indexSize)
    return changed
}
