import BinaryIO
import ModelIR

/// Reads safetensors files, enforcing every rule of the reference reader
/// (the safetensors format's README), and returns tensors that point into the mapped file.
public enum SafetensorsReader {
    /// The largest header the reference reader accepts (`MAX_HEADER_SIZE` in safetensors' `safetensors/src/tensor.rs`).
    public static let maxHeaderBytes = 100_000_000

    /// Parses the header of the file at `path` and returns its tensors (in data order) and metadata.
    /// No tensor bytes are read.
    public static func read(path: String) throws -> (tensors: [Tensor], metadata: Metadata) {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        return try read(file)
    }

    /// Parses the header of an already mapped file.
    public static func read(_ file: MappedFile) throws -> (tensors: [Tensor], metadata: Metadata) {
        let path = file.path
        func fail(_ location: ModelError.Location? = nil, _ reason: String) -> ModelError {
            ModelError(file: path, location: location, reason)
        }
        guard file.count >= 8 else {
            throw fail(.offset(0), "file of \(file.count) bytes is too small for the 8-byte header length")
        }
        let rawLength = file.withBytes(in: 0..<8) { $0.loadUnaligned(as: UInt64.self) }
        let headerLength = UInt64(littleEndian: rawLength)
        let maxHeaderBytes = ReaderLimits.current.maxHeaderBytes
        guard let n = Int(exactly: headerLength), n <= maxHeaderBytes else {
            throw fail(.offset(0), "header length \(headerLength) exceeds the \(maxHeaderBytes)-byte limit").with(kind: .limitExceeded)
        }
        guard n <= file.count - 8 else {
            throw fail(.offset(0), "header length \(n) runs past the end of the \(file.count)-byte file")
        }
        let header: JSON
        do {
            header = try file.withBytes(in: 8..<(8 + n)) { try JSON.parse($0, path: path, baseOffset: 8) }
        } catch {
            throw ModelError(error, file: path)
        }
        guard case .object(let members) = header else {
            throw fail(.offset(8), "header must be a JSON object, found \(header.kindName)")
        }

        let dataStart = 8 + n
        let dataLength = file.count - dataStart
        var metadata = Metadata()
        var entries: [(info: TensorInfo, begin: Int, end: Int)] = []
        for (key, value) in members {
            if key == "__metadata__" {
                metadata = try parseMetadata(value, fail: fail)
                continue
            }
            entries.append(try parseEntry(name: key, value, fail: fail))
        }

        // Rules 5–8: sorted by offsets, contiguous from 0, sizes matching, buffer fully covered.
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        for entry in entries {
            guard entry.end <= dataLength else {
                throw fail(.tensor(entry.info.name),
                           "data_offsets [\(entry.begin), \(entry.end)] run past the end of the \(dataLength)-byte data buffer")
            }
            guard entry.begin == position else {
                let what = entry.begin < position ? "overlaps the previous tensor" : "leaves a gap after the previous tensor"
                throw fail(.tensor(entry.info.name), "data_offsets [\(entry.begin), \(entry.end)] \(what) (expected to start at \(position))")
            }
            position = entry.end
        }
        guard position == dataLength else {
            throw fail(.offset(dataStart + position),
                       "tensors cover \(position) of the \(dataLength) data bytes; the buffer must be covered exactly")
        }
        let tensors = entries.map { entry in
            Tensor(info: entry.info, data: .mapped(file, range: (dataStart + entry.begin)..<(dataStart + entry.end)))
        }
        return (tensors, metadata)
    }

    private static func parseMetadata(
        _ value: JSON, fail: (ModelError.Location?, String) -> ModelError
    ) throws -> Metadata {
        if value == .null { return Metadata() }
        guard case .object(let pairs) = value else {
            throw fail(.key("__metadata__"), "must be an object of strings, found \(value.kindName)")
        }
        var metadata = Metadata()
        for (key, item) in pairs {
            guard case .string(let text) = item else {
                throw fail(.key("__metadata__"), "value of \"\(key)\" must be a string, found \(item.kindName)")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseEntry(
        name: String, _ value: JSON, fail: (ModelError.Location?, String) -> ModelError
    ) throws -> (info: TensorInfo, begin: Int, end: Int) {
        guard case .object = value else {
            throw fail(.tensor(name), "entry must be an object, found \(value.kindName)")
        }
        guard let dtypeText = value["dtype"]?.stringValue else { throw fail(.tensor(name), "has no \"dtype\" string") }
        guard let wire = SafetensorsDType(rawValue: dtypeText) else {
            throw fail(.tensor(name), "unknown dtype \"\(dtypeText)\"")
        }
        guard let dtype = wire.dtype else {
            throw fail(.tensor(name), "dtype \(dtypeText) is valid safetensors but not supported by ModelPort")
        }
        guard let shapeValues = value["shape"]?.arrayValue else { throw fail(.tensor(name), "has no \"shape\" array") }
        var dims: [Int] = []
        for d in shapeValues {
            guard let raw = d.uint64Value, let dim = Int(exactly: raw) else {
                throw fail(.tensor(name), "shape entry \(d.serialized()) is not an unsigned 64-bit integer")
            }
            dims.append(dim)
        }
        let info = TensorInfo(name: name, dtype: dtype, shape: Shape(dims))
        guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
              let rawBegin = offsets[0].uint64Value, let rawEnd = offsets[1].uint64Value else {
            throw fail(.tensor(name), "\"data_offsets\" must be two unsigned integers")
        }
        guard let begin = Int(exactly: rawBegin), let end = Int(exactly: rawEnd), end >= begin else {
            throw fail(.tensor(name), "data_offsets [\(rawBegin), \(rawEnd)] are out of range or reversed")
        }
        guard let expected = info.byteCount else {
            throw fail(.tensor(name), "shape \(info.shape) of \(dtypeText) overflows")
        }
        guard end - begin == expected else {
            throw fail(.tensor(name), "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but \(dtypeText) \(info.shape) needs \(expected)")
        }
        return (info, begin, end)
    }
}
