import BinaryIO
import ModelIR
import Transforms

/// safetensors as a ModelPort format: one file, a sharded index, or a Hugging Face folder holding either.
public struct SafetensorsSource: ModelReader {
    public init() {}

    public var description: FormatDescription {
        FormatDescription(id: "safetensors", name: "safetensors",
                          reads: "`*.safetensors`, `model.safetensors.index.json` with its shards",
                          writes: "one `*.safetensors` file (Linear weights packed as int8, MLX 4- or 8-bit on request)",
                          destinationSuffixes: [".safetensors"])
    }

    public var usesHuggingFaceConfig: Bool { true }

    public func match(_ probe: FileProbe) -> FormatMatch? {
        guard let file = probe.file else { return nil }
        if probe.path.hasSuffix(".json"), file.withBytes({ $0.first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) } }) == UInt8(ascii: "{") {
            guard let shard = ShardIndex.firstShard(indexPath: probe.path) else { return nil }
            return shard.hasSuffix(".safetensors") ? .signature : nil
        }
        // An 8-byte little-endian header length that fits the file, then the JSON header's `{`.
        return file.withBytes { bytes -> FormatMatch? in
            guard bytes.count >= 10 else { return nil }
            let n = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
            return n >= 2 && n <= UInt64(bytes.count - 8) && bytes[8] == UInt8(ascii: "{") ? .signature : nil
        }
    }

    public func claim(folder: String, names: [String]) throws -> FolderClaim? {
        if names.contains("model.safetensors.index.json") { return .file("model.safetensors.index.json") }
        return try HuggingFaceFolder.single(names.filter { $0.hasSuffix(".safetensors") }, preferred: "model.safetensors", in: folder)
            .map(FolderClaim.file)
    }

    public func read(_ path: String, options: ReadOptions) throws -> Model {
        if path.hasSuffix(".json") {
            let (tensors, metadata) = try SafetensorsIndex.read(indexPath: path)
            return Model(tensors: tensors, metadata: metadata, sourceFormat: "sharded safetensors (index.json)")
        }
        let (tensors, metadata) = try SafetensorsReader.read(path: path)
        return Model(tensors: tensors, metadata: metadata, sourceFormat: description.name)
    }
}

/// The model's safetensors metadata, with the `format: pt` that transformers requires added first when missing.
func safetensorsMetadata(_ model: Model) -> Metadata {
    guard model.metadata["format"] == nil else { return model.metadata }
    var metadata: Metadata = ["format": "pt"]
    metadata.merge(model.metadata)
    return metadata
}

/// One safetensors file out, optionally with Linear weights packed (compressed-tensors int8, MLX affine).
public struct SafetensorsOutput: ModelOutput {
    /// How to pack Linear (and, for MLX, Embedding) weights; nil stores them as they are.
    public var packing: PackedScheme?

    public init(packing: PackedScheme? = nil) {
        self.packing = packing
    }

    public var description: FormatDescription { SafetensorsSource().description }

    public func prepare(_ model: Model) throws -> PreparedOutput {
        let plain = try model.dequantizingBlocks()
        return PreparedOutput(model: try packing.map { try plain.quantizingPacked($0) } ?? plain)
    }

    public func write(_ prepared: PreparedOutput, to destination: String, options: OutputOptions) throws -> [String] {
        try SafetensorsWriter.write(prepared.model.tensors, metadata: safetensorsMetadata(prepared.model), to: destination, options: options)
        return [splitPath(destination).name]
    }
}

/// A Hugging Face model folder out: `config.json`, safetensors weights (one file, or shards with
/// `model.safetensors.index.json`), and the tokenizer and sentence-transformers files.
public struct HuggingFaceOutput: ModelOutput {
    /// Split the weights into shards of at most this many bytes (transformers' `max_shard_size`); nil writes one file.
    public var maxShardBytes: Int?
    /// How to pack Linear (and, for MLX, Embedding) weights; nil stores them as they are.
    public var packing: PackedScheme?

    public init(maxShardBytes: Int? = nil, packing: PackedScheme? = nil) {
        self.maxShardBytes = maxShardBytes
        self.packing = packing
    }

    public var description: FormatDescription {
        FormatDescription(id: "hf", name: "Hugging Face folder",
                          reads: "a folder with `config.json` and safetensors or PyTorch weights (sharded too), tokenizer files, sentence-transformers modules",
                          writes: "`config.json` + `model.safetensors` (or shards + index) + tokenizer files; int8 compressed-tensors and MLX folders")
    }

    public func prepare(_ model: Model) throws -> PreparedOutput {
        try SafetensorsOutput(packing: packing).prepare(model)
    }

    public func write(_ prepared: PreparedOutput, to destination: String, options: OutputOptions) throws -> [String] {
        let model = prepared.model
        return try ModelFolder.write(model, to: destination, options: options) { folder, inner in
            try SafetensorsIndex.write(model.tensors, metadata: safetensorsMetadata(model), folder: folder,
                                       maxShardBytes: maxShardBytes, options: inner)
        }
    }
}
