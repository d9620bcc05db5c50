import BinaryIO
import ModelIR
import Transforms

/// Reads Flax checkpoints as `flax.serialization.to_bytes` writes them (Hugging Face's `flax_model.msgpack`, and
/// its shards beside `flax_model.msgpack.index.json`): a MessagePack map of nested maps whose leaves are arrays,
/// each an extension value of type 1 holding `[shape, dtype name, raw bytes]` (flax's `serialization.py`,
/// `_ndarray_to_bytes`). Arrays over 1 GiB are split by flax into a map `{"__msgpack_chunked_array__": true,
/// "shape": {"0": …}, "chunks": {"0": array, …}}`, which is read back as one tensor.
///
/// The tensor bytes stay in the mapped file (zero copy); names become Hugging Face PyTorch names through
/// `FlaxCheckpoint.nameRules` (the rules transformers' `modeling_flax_pytorch_utils.py` applies), `kernel`s of
/// Dense layers transposed lazily to PyTorch's [out, in].
public enum FlaxCheckpoint {
    /// Whether `bytes` start like a Flax checkpoint: a MessagePack map whose first key is a string.
    package static func recognizes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 2 else { return false }
        let skip: Int
        switch bytes[0] {
        case 0x81...0x8F: skip = 1
        case 0xDE: skip = 3
        case 0xDF: skip = 5
        default: return false
        }
        guard bytes.count > skip else { return false }
        let key = bytes[skip]
        return (0xA1...0xBF).contains(key) || key == 0xD9 || key == 0xDA
    }

    /// The tensors of one msgpack file under their Flax paths joined with `/` (`encoder/layer/0/…/kernel`),
    /// and notes about what was skipped.
    public static func readTensors(path: String) throws -> (tensors: [Tensor], notes: [Note]) {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        let limits = ReaderLimits.current
        let root: MessagePackValue
        // The map's keys sit between the arrays, and each read of them maps a folio: released as the parse passes.
        let behind = PagesBehind(file)
        defer { behind.release(upTo: file.count) }
        do {
            root = try file.withBytes { bytes -> MessagePackValue in
                var parser = MessagePackParser(bytes, path: path, limits: limits)
                parser.passed = { behind.release(upTo: $0) }
                let value = try parser.parse()
                guard parser.remaining == 0 else {
                    throw BinaryIOError(path: path, offset: parser.offset, reason: "\(parser.remaining) bytes follow the checkpoint's map")
                }
                return value
            }
        } catch { throw ModelError(error, file: path) }
        guard case .map = root else { throw ModelError(file: path, location: .offset(0), "a Flax checkpoint is a MessagePack map") }
        var collector = Collector(file: file, limits: limits)
        try collector.walk(root, path: [])
        return (collector.tensors, collector.notes)
    }

    /// Reads `path` (a `flax_model.msgpack`, or a `flax_model.msgpack.index.json` naming shards) into a model with
    /// Hugging Face PyTorch names. Config and tokenizer files are the pipeline's to attach. With `strict`, a path
    /// whose last key no rule knows is an error naming it; otherwise it keeps its spelling and a note lists it.
    public static func read(path: String, strict: Bool = false) throws -> Model {
        var (tensors, notes) = path.hasSuffix(".json") ? try readShards(indexPath: path) : try readTensors(path: path)
        var seen = Set<String>()
        var unknown: [String] = []
        tensors = try tensors.map { tensor in
            var (mapped, transpose, known) = pytorchName(tensor.name)
            if !known {
                if strict { throw ModelError(file: path, location: .tensor(tensor.name), "matches no Flax naming rule (strict reading)") }
                unknown.append(tensor.name)
            }
            var result = tensor
            if transpose, tensor.shape.rank == 2 { result = try tensor.transposed() }
            else if transpose {
                throw ModelError(file: path, location: .tensor(tensor.name), "a kernel of rank \(tensor.shape.rank) (only Dense kernels, rank 2, are read)")
            }
            if mapped.isEmpty { mapped = tensor.name }
            guard seen.insert(mapped).inserted else {
                throw ModelError(file: path, location: .tensor(tensor.name), "maps to '\(mapped)', which another tensor already has")
            }
            result.name = mapped
            return result
        }
        if !unknown.isEmpty { notes.append(Note(.naming, "\(unknown.count) Flax names kept as they are: \(unknown.prefix(3).joined(separator: ", "))")) }
        return Model(tensors: tensors, notes: notes, sourceFormat: path.hasSuffix(".json") ? "sharded Flax msgpack (index.json)" : "Flax msgpack")
    }

    /// Reads the shards an index names, checking that each tensor is where the index says and nowhere else. The
    /// index's keys are the Flax paths joined with `/`, as transformers' `flax_shard_checkpoint` writes them.
    static func readShards(indexPath: String) throws -> (tensors: [Tensor], notes: [Note]) {
        let contents = try ShardIndex.readShards(indexPath: indexPath) { shard in
            let (tensors, notes) = try readTensors(path: shard)
            return (tensors, [:], notes)
        }
        return (contents.tensors, contents.notes)
    }

    /// The rules that turn a Flax path into a PyTorch name, in order (transformers'
    /// `convert_flax_state_dict_to_pytorch`): the last key `kernel` of a rank-2 array becomes `weight`, transposed;
    /// `scale` (LayerNorm) and `embedding` (Embed) become `weight`; keys join with `.`.
    public static let lastKeyRules: [(flax: String, pytorch: String, transpose: Bool)] = [
        ("kernel", "weight", true), ("scale", "weight", false), ("embedding", "weight", false),
    ]

    /// Keys the rules know at the end of a path; others are kept as they are and reported.
    static let knownLastKeys: Set<String> = ["kernel", "scale", "embedding", "bias", "weight"]

    /// The PyTorch name of a Flax path (`/`-joined), whether its array is transposed, and whether the last key is
    /// one the rules know.
    public static func pytorchName(_ flaxPath: String) -> (name: String, transpose: Bool, known: Bool) {
        var keys = flaxPath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let last = keys.last else { return (flaxPath, false, false) }
        var transpose = false
        if let rule = lastKeyRules.first(where: { $0.flax == last }) {
            keys[keys.count - 1] = rule.pytorch
            transpose = rule.transpose
        }
        return (keys.joined(separator: "."), transpose, knownLastKeys.contains(last))
    }
}

/// Walks a checkpoint's maps, collecting array leaves as mapped tensors.
struct Collector {
    let file: MappedFile
    let limits: ReaderLimits
    var tensors: [Tensor] = []
    var notes: [Note] = []
    var skipped = 0

    init(file: MappedFile, limits: ReaderLimits) {
        self.file = file
        self.limits = limits
    }

    static let chunkedMarker = "__msgpack_chunked_array__"

    mutating func walk(_ value: MessagePackValue, path: [String]) throws {
        let name = path.joined(separator: "/")
        switch value {
        case .map(let pairs):
            if pairs.contains(where: { $0.key.stringValue == Self.chunkedMarker }) {
                try append(try chunked(pairs, name: name))
                return
            }
            for (key, child) in pairs {
                guard let key = key.stringValue ?? key.intValue.map(String.init) else {
                    throw ModelError(file: file.path, location: .key(name), "a map key that is neither a string nor an integer")
                }
                guard !key.isEmpty, !key.contains("/") else {
                    throw ModelError(file: file.path, location: .key(name + "/" + key), "keys must be non-empty and hold no '/'")
                }
                try walk(child, path: path + [key])
            }
        case let .ext(type, range) where type == 1 || type == 3:
            try append(try array(range, name: name))
        case .ext(let type, _):
            throw ModelError(kind: .unsupported, file: file.path, location: .key(name), "MessagePack extension type \(type) (flax writes arrays as type 1, scalars as 3)")
        default:
            skipped += 1
            if skipped == 1 { notes.append("'\(name)' holds no array and is skipped") }
        }
    }

    mutating func append(_ tensor: Tensor) throws {
        guard tensors.count < limits.maxTensors else {
            throw ModelError(kind: .limitExceeded, file: file.path, location: .tensor(tensor.name), "more than \(limits.maxTensors) arrays")
        }
        tensors.append(tensor)
    }

    /// numpy dtype names (`dtype.name`) flax writes.
    static let dtypes: [String: DType] = [
        "float16": .f16, "bfloat16": .bf16, "float32": .f32, "float64": .f64, "bool": .bool,
        "int8": .i8, "uint8": .u8, "int16": .i16, "uint16": .u16, "int32": .i32, "uint32": .u32, "int64": .i64, "uint64": .u64,
        "float8_e4m3fn": .f8E4M3, "float8_e5m2": .f8E5M2,
    ]

    /// One array extension payload: `[shape, dtype name, bytes]`.
    func array(_ range: Range<Int>, name: String) throws -> Tensor {
        let payload: MessagePackValue
        do {
            payload = try file.withBytes(in: range) { bytes in
                var parser = MessagePackParser(bytes, path: file.path, baseOffset: range.lowerBound, limits: limits)
                let value = try parser.parse()
                guard parser.remaining == 0 else {
                    throw BinaryIOError(path: file.path, offset: range.lowerBound + parser.offset, reason: "bytes follow the array of '\(name)'")
                }
                return value
            }
        } catch { throw ModelError(error, file: file.path) }
        file.releasePages(in: range.lowerBound..<min(range.upperBound, range.lowerBound + 1))  // the header's folio
        guard case .array(let parts) = payload, parts.count == 3, case .array(let dims) = parts[0],
              let dtypeName = parts[1].stringValue, case .binary(let data) = parts[2] else {
            throw ModelError(file: file.path, location: .tensor(name), "an array must be [shape, dtype, bytes] (offset \(range.lowerBound))")
        }
        guard let dtype = Self.dtypes[dtypeName] else {
            throw ModelError(kind: .unsupported, file: file.path, location: .tensor(name), "dtype '\(String(dtypeName.prefix(40)))' is not one ModelPort reads")
        }
        let shape = try self.shape(dims, name: name)
        let info = TensorInfo(name: name, dtype: dtype, shape: shape)
        guard let expected = info.byteCount, expected == data.count else {
            throw ModelError(file: file.path, location: .tensor(name), "\(dtypeName) \(shape) needs \(info.byteCount.map(String.init) ?? "too many") bytes, but \(data.count) are stored (offset \(data.lowerBound))")
        }
        return Tensor(info: info, data: .mapped(file, range: data))
    }

    func shape(_ dims: [MessagePackValue], name: String) throws -> Shape {
        let values = try dims.map { dim -> Int in
            guard let n = dim.intValue, n >= 0 else {
                throw ModelError(file: file.path, location: .tensor(name), "shape entries must be non-negative integers")
            }
            return n
        }
        guard Shape(values).elementCount != nil else {
            throw ModelError(file: file.path, location: .tensor(name), "shape \(values) overflows")
        }
        return Shape(values)
    }

    /// An array flax split into chunks: their bytes, in order, make the whole.
    func chunked(_ pairs: [(key: MessagePackValue, value: MessagePackValue)], name: String) throws -> Tensor {
        func member(_ key: String) -> MessagePackValue? { pairs.first { $0.key.stringValue == key }?.value }
        func indexed(_ value: MessagePackValue?, _ what: String) throws -> [MessagePackValue] {
            guard case .map(let entries)? = value else {
                throw ModelError(file: file.path, location: .tensor(name), "a chunked array needs a '\(what)' map")
            }
            var items = [MessagePackValue?](repeating: nil, count: entries.count)
            for (key, value) in entries {
                guard let i = key.stringValue.flatMap({ Int($0) }), items.indices.contains(i), items[i] == nil else {
                    throw ModelError(file: file.path, location: .tensor(name), "'\(what)' keys must be 0…\(entries.count - 1)")
                }
                items[i] = value
            }
            return items.compactMap { $0 }
        }
        let shape = try self.shape(try indexed(member("shape"), "shape"), name: name)
        var chunks: [Tensor] = []
        for chunk in try indexed(member("chunks"), "chunks") {
            guard case let .ext(type, range) = chunk, type == 1 else {
                throw ModelError(file: file.path, location: .tensor(name), "a chunk must be an array")
            }
            chunks.append(try array(range, name: name))
        }
        guard let dtype = chunks.first?.dtype, chunks.allSatisfy({ $0.dtype == dtype && $0.shape.rank == 1 }) else {
            throw ModelError(file: file.path, location: .tensor(name), "chunks must be flat arrays of one dtype")
        }
        let info = TensorInfo(name: name, dtype: dtype, shape: shape)
        let total = chunks.reduce(0) { $0 + ($1.info.byteCount ?? 0) }
        guard let expected = info.byteCount, expected == total else {
            throw ModelError(file: file.path, location: .tensor(name), "chunks hold \(total) bytes, but \(dtype.rawValue) \(shape) needs \(info.byteCount.map(String.init) ?? "too many")")
        }
        let parts = chunks.map(\.data)
        return Tensor(info: info, data: .producer {
            let buffer = TensorBuffer(count: expected)
            try buffer.withMutableBytes { out in
                var at = 0
                for part in parts {
                    try part.withBytes { bytes in
                        guard at + bytes.count <= out.count else { throw ModelError(location: .tensor(name), "chunks overrun the array") }
                        UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + bytes.count)]).copyMemory(from: bytes)
                        at += bytes.count
                    }
                }
            }
            return buffer
        })
    }
}
