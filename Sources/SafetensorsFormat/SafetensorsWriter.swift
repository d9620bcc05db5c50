import BinaryIO
import ModelIR

/// Writes safetensors files the way the reference `serialize` does (safetensors' `safetensors/src/tensor.rs`), streaming: the header is
/// computed from tensor infos alone, then tensors are pulled and written one at a time.
///
/// For the same tensors and metadata the output is byte-identical to the Python `safetensors` package's.
public enum SafetensorsWriter {
    /// A tensor's place in the file being written.
    public struct Entry: Sendable {
        public var tensor: Tensor
        public var begin: Int
        public var end: Int
    }

    /// The header and data layout for `tensors`: ordered by dtype (largest alignment first, as the reference
    /// enum ranks them) then by name (bytewise); `__metadata__` first, its keys sorted, packed without padding, header padded with spaces to a multiple of 8.
    public static func layout(
        of tensors: [Tensor], metadata: Metadata
    ) throws -> (header: [UInt8], entries: [Entry]) {
        var ranked: [(rank: Int, wire: SafetensorsDType, tensor: Tensor)] = []
        var seen = Set<String>()
        for tensor in tensors {
            guard let wire = SafetensorsDType(tensor.dtype) else {
                throw ModelError(location: .tensor(tensor.name), "\(tensor.dtype.rawValue) cannot be stored in safetensors")
            }
            guard seen.insert(tensor.name).inserted else {
                throw ModelError(location: .tensor(tensor.name), "appears twice; safetensors names must be unique")
            }
            ranked.append((wire.rank, wire, tensor))
        }
        ranked.sort { a, b in
            a.rank != b.rank ? a.rank > b.rank : a.tensor.name.utf8.lexicographicallyPrecedes(b.tensor.name.utf8)
        }

        var members: [(key: String, value: JSON)] = []
        if !metadata.isEmpty {
            // The reference writer keeps metadata in a hash map, so its key order varies from run to run;
            // sorted keys make ModelPort's output reproducible (and identical whenever there is one key).
            let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            members.append(("__metadata__", .object(pairs.map { ($0.key, JSON.string($0.value)) })))
        }
        var entries: [Entry] = []
        var offset = 0
        for (_, wire, tensor) in ranked {
            guard let size = tensor.info.byteCount else {
                throw ModelError(location: .tensor(tensor.name), "shape \(tensor.shape) has no valid byte size")
            }
            let end = offset + size
            members.append((tensor.name, .object([
                ("dtype", .string(wire.rawValue)),
                ("shape", .array(tensor.shape.dimensions.map(JSON.integer))),
                ("data_offsets", .array([.integer(offset), .integer(end)])),
            ])))
            entries.append(Entry(tensor: tensor, begin: offset, end: end))
            offset = end
        }
        var header = Array(JSON.object(members).serialized(.compact).utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        guard header.count <= SafetensorsReader.maxHeaderBytes else {
            throw ModelError("safetensors header of \(header.count) bytes exceeds the \(SafetensorsReader.maxHeaderBytes)-byte limit")
        }
        return (header, entries)
    }

    /// Writes `tensors` to `path` atomically (temporary file, fsync, rename).
    public static func write(
        _ tensors: [Tensor], metadata: Metadata, to path: String, options: OutputOptions = .init()
    ) throws {
        let (header, entries) = try layout(of: tensors, metadata: metadata)
        let output = try AtomicFile(destination: path, existing: options.existing)
        do {
            var out = ByteWriter(streamingTo: output)
            try out.write(header.count, as: UInt64.self, endianness: .little)
            try out.writeBytes(header)
            for entry in entries {
                try entry.tensor.write(to: &out)
                options.progress?(entry.tensor.name, entry.end - entry.begin)
            }
            try out.commit()
        } catch {
            output.abandon()
            throw ModelError(error, file: path)
        }
    }
}
