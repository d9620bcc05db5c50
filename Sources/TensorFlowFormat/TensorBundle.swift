import BinaryIO
import ModelIR
import SwiftProtobuf

/// Reads TensorFlow tensor bundles: TF1 "V2" Saver checkpoints and TF2 object-based checkpoints
/// (TensorFlow's `tensor_bundle.cc`). Tensors keep TF's names (TF2 keys become their TF1
/// `full_name` where the object graph gives one); numeric tensors point into the mapped data shards, each
/// checked against its masked CRC32C when read; partitioned variables are reassembled on demand.
public enum TensorBundle {

    /// What was read: the tensors, the tensors that cannot be converted, and the resolved prefix.
    public struct Contents: Sendable {
        public var prefix: String
        public var tensors: [Tensor]
        public var skipped: [DroppedTensor]
        public var notes: [Note]
    }

    /// Finds the checkpoint prefix for `source`: a prefix, an `.index` file, or a folder (its `checkpoint`
    /// file's `model_checkpoint_path`, else its only `.index`).
    public static func prefix(for source: String) throws -> String {
        if isDirectory(source) {
            let folder = source.hasSuffix("/") ? String(source.dropLast()) : source
            if fileExists(folder + "/checkpoint"), let named = try checkpointFilePrefix(folder) {
                return named
            }
            let indexes = (folderEntries(folder) ?? []).filter { $0.hasSuffix(".index") }
            guard indexes.count == 1 else {
                throw ModelError(file: source, indexes.isEmpty
                    ? "no TensorFlow checkpoint (*.index) in the folder"
                    : "several checkpoints (\(indexes.joined(separator: ", "))) and no 'checkpoint' file; name one")
            }
            return folder + "/" + String(indexes[0].dropLast(".index".count))
        }
        if source.hasSuffix(".index") { return String(source.dropLast(".index".count)) }
        if fileExists(source + ".index") { return source }
        if let range = source.ranges(of: ".data-").last {
            return String(source[..<range.lowerBound])
        }
        throw ModelError(file: source, "no TensorFlow checkpoint here (looked for \(source).index)")
    }

    /// `model_checkpoint_path` from a folder's text-format `checkpoint` file.
    static func checkpointFilePrefix(_ folder: String) throws -> String? {
        let text = try MappedFile(path: folder + "/checkpoint").withBytes { String(decoding: $0.prefix(1 << 20), as: UTF8.self) }
        for line in text.textLines() where line.hasPrefix("model_checkpoint_path:") {
            let value = line.dropFirst("model_checkpoint_path:".count).trimmingCharacters(in: " \t\"")
            guard !value.isEmpty else { return nil }
            // The path never leads out of the folder: an absolute path (a folder copied from elsewhere keeps the
            // writer's) or one climbing with `..` names the checkpoint of that name beside this file.
            let parts = value.split(separator: "/", omittingEmptySubsequences: false)
            let inside = !value.hasPrefix("/") && !parts.contains("..")
            let candidate = folder + "/" + (inside ? value : splitPath(value).name)
            if fileExists(candidate + ".index") { return candidate }
            let local = folder + "/" + splitPath(value).name
            return fileExists(local + ".index") ? local : nil
        }
        return nil
    }

    /// Reads the checkpoint at `source`.
    public static func read(_ source: String, limits: ReaderLimits = .current) throws -> Contents {
        let prefix = try prefix(for: source)
        let indexPath = prefix + ".index"
        let index: MappedFile
        do { index = try MappedFile(path: indexPath) } catch { throw ModelError(error, file: indexPath) }
        let entries = try SSTable(file: index).entries()
        func fail(_ location: ModelError.Location?, _ reason: String) -> ModelError {
            ModelError(file: indexPath, location: location, reason)
        }
        func value(_ entry: SSTable.Entry) -> [UInt8] { index.withBytes(in: entry.value) { Array($0) } }

        guard let first = entries.first, first.key.isEmpty else { throw fail(nil, "no bundle header (the empty key)") }
        let header: Tensorflow_BundleHeaderProto
        do { header = try Tensorflow_BundleHeaderProto(serializedBytes: value(first)) } catch {
            throw fail(.offset(first.value.lowerBound), "bundle header does not decode: \(error)")
        }
        if header.hasVersion {
            let version = header.version
            guard version.producer >= 0, version.minConsumer <= 1, !version.badConsumers.contains(1) else {
                throw fail(nil, "bundle version (producer \(version.producer), min consumer \(version.minConsumer)) is not readable")
            }
        }
        guard header.numShards >= 1, Int(header.numShards) <= limits.maxShards else {
            throw fail(nil, "num_shards \(header.numShards) is out of range").with(kind: .limitExceeded)
        }
        let bigEndian: Bool
        switch header.endianness {
        case .little: bigEndian = false
        case .big: bigEndian = true
        case .UNRECOGNIZED(let raw): throw fail(nil, "unknown endianness \(raw)")
        }
        let shardCount = Int(header.numShards)
        var shards: [MappedFile?] = Array(repeating: nil, count: shardCount)
        func shard(_ id: Int, for name: String) throws -> MappedFile {
            guard id >= 0, id < shardCount else {
                throw fail(.tensor(name), "shard_id \(id) is outside the checkpoint's \(shardCount) shards")
            }
            if let file = shards[id] { return file }
            let path = prefix + ".data-" + fiveDigits(id) + "-of-" + fiveDigits(shardCount)
            guard fileExists(path) else { throw ModelError(file: path, location: .tensor(name), "data shard is missing") }
            let file: MappedFile
            do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
            shards[id] = file
            return file
        }

        var sliceEntries: [[UInt8]: SSTable.Entry] = [:]
        var contents = Contents(prefix: prefix, tensors: [], skipped: [], notes: [])
        var objectGraph: Tensorflow_TrackableObjectGraph?
        var pending: [(name: String, entry: Tensorflow_BundleEntryProto, at: Int)] = []
        for entry in entries.dropFirst() {
            if entry.key.first == 0 {  // a slice of a partitioned variable
                sliceEntries[entry.key] = entry
                continue
            }
            guard let name = String(validating: entry.key, as: UTF8.self) else {
                throw fail(.offset(entry.value.lowerBound), "tensor name is not valid UTF-8")
            }
            let proto: Tensorflow_BundleEntryProto
            do { proto = try Tensorflow_BundleEntryProto(serializedBytes: value(entry)) } catch {
                throw fail(.tensor(name), "entry does not decode: \(error)")
            }
            pending.append((name, proto, entry.value.lowerBound))
        }

        for (name, proto, _) in pending {
            let shape = try Self.shape(proto.shape, limits: limits, fail: { fail(.tensor(name), $0) })
            guard let dtype = proto.dtype.dtype else {
                let bytes = Int(clamping: proto.size)
                if name == "_CHECKPOINTABLE_OBJECT_GRAPH", proto.dtype == .dtString {
                    objectGraph = try readObjectGraph(proto, shard: shard(Int(proto.shardID), for: name), name: name, fail: fail)
                    contents.skipped.append(DroppedTensor(name: name, kind: .notConvertible, reason: "TF2 object graph (used for names)", byteCount: bytes))
                } else {
                    contents.skipped.append(DroppedTensor(name: name, kind: .notConvertible, reason: "\(proto.dtype.tfName) tensor (not convertible)", byteCount: bytes))
                }
                continue
            }
            let info = TensorInfo(name: name, dtype: dtype, shape: shape)
            guard let expected = info.byteCount else { throw fail(.tensor(name), "shape \(shape) overflows") }
            if !proto.slices.isEmpty {
                let data = try partitioned(name: name, info: info, slices: proto.slices, sliceEntries: sliceEntries,
                                           decode: { try Tensorflow_BundleEntryProto(serializedBytes: value($0)) },
                                           shard: shard, bigEndian: bigEndian, limits: limits, fail: fail)
                contents.tensors.append(Tensor(info: info, data: data))
                continue
            }
            contents.tensors.append(Tensor(info: info, data: try stored(
                name: name, proto: proto, expected: expected, dtype: dtype, shard: shard, bigEndian: bigEndian, fail: fail)))
        }
        if bigEndian { contents.notes.append("big-endian checkpoint: tensors are byte-swapped to little-endian") }
        if let objectGraph { contents.tensors = renamedFromObjectGraph(contents.tensors, objectGraph, notes: &contents.notes) }
        return contents
    }

    /// The bytes of an ordinary entry: a checked range of its shard (swapped when big-endian).
    static func stored(
        name: String, proto: Tensorflow_BundleEntryProto, expected: Int, dtype: DType,
        shard: (Int, String) throws -> MappedFile, bigEndian: Bool, fail: (ModelError.Location?, String) -> ModelError
    ) throws -> TensorData {
        let file = try shard(Int(proto.shardID), name)
        guard let offset = Int(exactly: proto.offset), let size = Int(exactly: proto.size), offset >= 0, size >= 0 else {
            throw fail(.tensor(name), "offset \(proto.offset) / size \(proto.size) are out of range")
        }
        guard size == expected else {
            throw fail(.tensor(name), "size \(size) does not match \(dtype.rawValue) shape (\(expected) bytes)")
        }
        guard offset <= file.count, size <= file.count - offset else {
            throw ModelError(file: file.path, location: .tensor(name),
                             "bytes \(offset)..<\(offset + size) run past the end of the \(file.count)-byte shard")
        }
        let crc = proto.crc32C
        let path = file.path
        let checksum = RecordChecksum(update: { CRC32C.checksum($1, continuing: $0) }) { value in
            let actual = CRC32C.mask(value)
            guard actual == crc else {
                throw ModelError(file: path, location: .tensor(name),
                                 "checksum mismatch (stored \(hex(crc)), computed \(hex(actual))): the data is corrupt")
            }
        }
        let mapped = TensorData.mapped(file, range: offset..<(offset + size), checksum: checksum)
        guard bigEndian, dtype.blockBytes > 1 else { return mapped }
        let width = dtype.blockBytes
        return .producer {
            try mapped.withBytes { bytes in
                let buffer = TensorBuffer(copying: bytes)
                buffer.withMutableBytes { swapByteOrder($0, width: width) }
                return buffer
            }
        }
    }

    static func shape(
        _ proto: Tensorflow_TensorShapeProto, limits: ReaderLimits, fail: (String) -> ModelError
    ) throws -> Shape {
        guard !proto.unknownRank else { throw fail("shape has unknown rank") }
        guard proto.dim.count <= limits.maxRank else { throw fail("rank \(proto.dim.count) exceeds \(limits.maxRank)").with(kind: .limitExceeded) }
        var dims: [Int] = []
        for d in proto.dim {
            guard d.size >= 0, let size = Int(exactly: d.size) else { throw fail("dimension \(d.size) is invalid") }
            dims.append(size)
        }
        guard Shape(dims).elementCount != nil else { throw fail("shape \(Shape(dims)) overflows") }
        return Shape(dims)
    }

    static func readObjectGraph(
        _ proto: Tensorflow_BundleEntryProto, shard: MappedFile, name: String,
        fail: (ModelError.Location?, String) -> ModelError
    ) throws -> Tensorflow_TrackableObjectGraph {
        guard let offset = Int(exactly: proto.offset), let size = Int(exactly: proto.size), offset >= 0, size >= 0,
              offset <= shard.count, size <= shard.count - offset else {
            throw fail(.tensor(name), "object graph bytes lie outside the shard")
        }
        return try shard.withBytes(in: offset..<(offset + size)) { bytes in
            // A scalar DT_STRING: varint64 length, masked length CRC, the bytes. The entry's CRC runs over the
            // length as a fixed-width integer, the stored masked word, then the bytes (`WriteStringTensor` in
            // TensorFlow's `tensorflow/core/util/tensor_bundle/tensor_bundle.cc`).
            var reader = ByteReader(bytes, path: shard.path, baseOffset: offset)
            let length = try reader.readVarintInt(limit: bytes.count, "string length")
            let lengthWordOffset = reader.offset
            _ = try reader.read(UInt32.self, endianness: .little)
            let payload = try reader.readBytes(length)
            var crc: UInt32 = length <= Int(UInt32.max)
                ? withUnsafeBytes(of: UInt32(length).littleEndian) { CRC32C.checksum($0) }
                : withUnsafeBytes(of: UInt64(length).littleEndian) { CRC32C.checksum($0) }
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[lengthWordOffset..<(lengthWordOffset + 4)]), continuing: crc)
            crc = CRC32C.checksum(payload, continuing: crc)
            guard CRC32C.mask(crc) == proto.crc32C else {
                throw ModelError(file: shard.path, location: .tensor(name), "checksum mismatch: the data is corrupt")
            }
            do {
                return try Tensorflow_TrackableObjectGraph(serializedBytes: Array(payload))
            } catch {
                throw fail(.tensor(name), "object graph does not decode: \(error)")
            }
        }
    }

    /// TF2 keys (`model/layer/.ATTRIBUTES/VARIABLE_VALUE`) renamed to the object graph's TF1-style `full_name`
    /// where it has one, else to their object-graph path (the key without `/.ATTRIBUTES/VARIABLE_VALUE`, each
    /// name unescaped). When the full names repeat (variables created without a name, `tf.Variable(x)` in a
    /// `tf.Module`, are all `Variable`), every tensor takes its path instead: those are unique, and they spell the
    /// attribute tree (`bert/encoder/layer_0/attention/self/query/kernel`) that the name maps read.
    static func renamedFromObjectGraph(
        _ tensors: [Tensor], _ graph: Tensorflow_TrackableObjectGraph, notes: inout [Note]
    ) -> [Tensor] {
        var fullNames: [String: String] = [:]
        for node in graph.nodes {
            for attribute in node.attributes where !attribute.fullName.isEmpty {
                fullNames[attribute.checkpointKey] = attribute.fullName
            }
        }
        let suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
        func path(_ key: String) -> String? {
            guard key.hasSuffix(suffix), !key.contains("/.OPTIMIZER_SLOT/") else { return nil }
            return unescapedObjectPath(String(key.dropLast(suffix.count)))
        }
        func fullName(_ key: String) -> String? { key.contains("/.OPTIMIZER_SLOT/") ? nil : fullNames[key] }
        var seen = Set<String>(), repeated: [String] = []
        for tensor in tensors {
            let name = fullName(tensor.name) ?? path(tensor.name) ?? tensor.name
            if !seen.insert(name).inserted { repeated.append(name) }
        }
        let useFullNames = repeated.isEmpty
        var renamed = 0
        let result = tensors.map { tensor -> Tensor in
            var tensor = tensor
            if useFullNames, let full = fullName(tensor.name) {
                tensor.name = full
                renamed += 1
            } else if let path = path(tensor.name) {
                tensor.name = path
            }
            return tensor
        }
        if useFullNames {
            notes.append(Note(.naming, "TF2 checkpoint: \(renamed) tensors named by the object graph's full_name"))
        } else {
            notes.append(Note(.naming, "TF2 checkpoint: full names repeat ('\(repeated[0])'), so tensors are named by their object-graph paths"))
        }
        return result
    }

    /// An object-graph path with TensorFlow's escaping of each name undone (`trackable_utils.escape_local_name`:
    /// `.` is written `..` and `/` is written `.S`).
    static func unescapedObjectPath(_ path: String) -> String {
        guard path.contains(".") else { return path }
        var out = "", pending = false
        for character in path {
            if pending {
                out.append(character == "S" ? "/" : character)
                pending = false
            } else if character == "." {
                pending = true
            } else {
                out.append(character)
            }
        }
        if pending { out.append(".") }
        return out
    }

    /// A partitioned variable, assembled from its slices when read.
    static func partitioned(
        name: String, info: TensorInfo, slices: [Tensorflow_TensorSliceProto], sliceEntries: [[UInt8]: SSTable.Entry],
        decode: (SSTable.Entry) throws -> Tensorflow_BundleEntryProto, shard: (Int, String) throws -> MappedFile,
        bigEndian: Bool, limits: ReaderLimits, fail: (ModelError.Location?, String) -> ModelError
    ) throws -> TensorData {
        let dims = info.shape.dimensions
        let width = info.dtype.blockBytes
        var parts: [(starts: [Int], lengths: [Int], data: TensorData)] = []
        for slice in slices {
            guard slice.extent.count == dims.count else {
                throw fail(.tensor(name), "slice has \(slice.extent.count) extents for a rank-\(dims.count) tensor")
            }
            var starts: [Int] = []
            var lengths: [Int] = []
            for (d, extent) in slice.extent.enumerated() {
                // start in 0…dim first, so that neither dim − start nor start + length can overflow.
                guard let start = Int(exactly: extent.start), start >= 0, start <= dims[d],
                      let length = extent.hasLength_p == nil ? dims[d] - start : Int(exactly: extent.length),
                      length >= 0, length <= dims[d] - start else {
                    let length = extent.hasLength_p == nil ? "-" : String(extent.length)
                    throw fail(.tensor(name), "slice extent \(extent.start)+\(length) is outside dimension \(dims[d])")
                }
                starts.append(start)
                lengths.append(length)
            }
            let key = SliceKey.encode(name: Array(name.utf8), extents: slice.extent.map {
                ($0.start, $0.hasLength_p == nil ? nil : $0.length)
            })
            guard let entry = sliceEntries[key] else { throw fail(.tensor(name), "slice \(starts)+\(lengths) is missing") }
            let proto = try decode(entry)
            let sliceInfo = TensorInfo(name: name, dtype: info.dtype, shape: Shape(lengths))
            guard proto.dtype.dtype == info.dtype else { throw fail(.tensor(name), "slice dtype differs from the tensor's") }
            let data = try stored(name: name, proto: proto, expected: sliceInfo.byteCount ?? -1, dtype: info.dtype,
                                  shard: shard, bigEndian: bigEndian, fail: fail)
            parts.append((starts, lengths, data))
        }
        try checkTiling(dims: dims, parts.map { ($0.starts, $0.lengths) }, limits: limits, fail: { fail(.tensor(name), $0) })
        let total = info.byteCount ?? 0
        let pieces = parts
        return .producer {
            let full = TensorBuffer(count: total)
            try full.withMutableBytes { destination in
                for part in pieces {
                    try part.data.withBytes { source in
                        copySlice(source, into: destination, dims: dims, starts: part.starts, lengths: part.lengths, width: width)
                    }
                }
            }
            return full
        }
    }
}

/// Checks that `slices` (starts and lengths per dimension) tile a tensor of `dims` exactly: no element is
/// covered twice and none is left out, so that reassembly leaves no zeros behind and overwrites nothing.
///
/// The boundaries of all slices cut each dimension into intervals; together they form a grid whose cells each
/// slice covers whole. Marking each slice's cells finds an overlap at its first shared cell, and a gap as a cell
/// left unmarked. The work is the number of cells (one per slice for TensorFlow's partitioners, which cut one
/// dimension) plus a sort of the boundaries; grids of more than `limits.maxSliceGridCells` cells are refused.
func checkTiling(
    dims: [Int], _ slices: [(starts: [Int], lengths: [Int])], limits: ReaderLimits, fail: (String) -> ModelError
) throws {
    let rank = dims.count
    guard rank > 0 else {
        guard slices.count == 1 else { throw fail("a scalar has \(slices.count) slices") }
        return
    }
    var cuts: [[Int]] = (0..<rank).map { [0, dims[$0]] }
    for slice in slices {
        for d in 0..<rank { cuts[d] += [slice.starts[d], slice.starts[d] + slice.lengths[d]] }
    }
    cuts = cuts.map { Array(Set($0)).sorted() }
    var cells = 1
    var strides = [Int](repeating: 1, count: rank)
    for d in stride(from: rank - 1, through: 0, by: -1) {
        strides[d] = cells
        let (product, overflow) = cells.multipliedReportingOverflow(by: cuts[d].count - 1)
        guard !overflow, product <= limits.maxSliceGridCells else {
            throw fail("\(slices.count) slices cut the tensor into more than \(limits.maxSliceGridCells) pieces").with(kind: .limitExceeded)
        }
        cells = product
    }
    var covered = [Bool](repeating: false, count: cells)
    var marked = 0
    for slice in slices {
        var low: [Int] = [], high: [Int] = []
        for d in 0..<rank {
            // Both ends are cut points by construction.
            low.append(cuts[d].partitionIndex(of: slice.starts[d]))
            high.append(cuts[d].partitionIndex(of: slice.starts[d] + slice.lengths[d]))
        }
        guard zip(low, high).allSatisfy({ $0 < $1 }) else { continue }  // an empty slice covers nothing
        var index = low
        while true {
            var cell = 0
            for d in 0..<rank { cell += index[d] * strides[d] }
            guard !covered[cell] else {
                throw fail("slice \(slice.starts)+\(slice.lengths) overlaps another slice (at \((0..<rank).map { cuts[$0][index[$0]] }))")
            }
            covered[cell] = true
            marked += 1
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < high[d] { break }
                index[d] = low[d]
                d -= 1
            }
            if d < 0 { break }
        }
    }
    guard marked == cells else {
        let gap = covered.firstIndex(of: false) ?? 0
        let at = (0..<rank).map { cuts[$0][(gap / strides[$0]) % (cuts[$0].count - 1)] }
        throw fail("slices leave part of the tensor uncovered (from \(at))")
    }
}

extension Array where Element == Int {
    /// The index of `value` in this sorted array (binary search; the value is known to be present).
    func partitionIndex(of value: Int) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// Copies a row-major block (`lengths`, at `starts`) into a row-major tensor of `dims`.
func copySlice(
    _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
    dims: [Int], starts: [Int], lengths: [Int], width: Int
) {
    let rank = dims.count
    guard rank > 0 else {
        destination.copyMemory(from: source)
        return
    }
    guard !lengths.contains(0) else { return }
    var strides = [Int](repeating: 1, count: rank)
    for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * dims[d + 1] }
    let run = lengths[rank - 1] * width
    var index = [Int](repeating: 0, count: rank - 1)
    var sourceOffset = 0
    while true {
        var target = starts[rank - 1]
        for d in 0..<(rank - 1) { target += (starts[d] + index[d]) * strides[d] }
        UnsafeMutableRawBufferPointer(rebasing: destination[(target * width)..<(target * width + run)])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[sourceOffset..<(sourceOffset + run)]))
        sourceOffset += run
        var d = rank - 2
        while d >= 0 {
            index[d] += 1
            if index[d] < lengths[d] { break }
            index[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}


func fiveDigits(_ n: Int) -> String {
    let digits = String(n)
    return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
}

