import BinaryIO
import ModelIR

/// Flax checkpoints as a ModelPort format: transformers' `flax_model.msgpack`, or its shards with
/// `flax_model.msgpack.index.json`, alone or in a Hugging Face folder (whose `config.json` and tokenizer files the
/// pipeline adds).
public struct FlaxSource: ModelReader {
    public init() {}

    public var description: FormatDescription {
        FormatDescription(id: "flax", name: "Flax",
                          reads: "`flax_model.msgpack` (msgpack), `flax_model.msgpack.index.json` with its shards (transformers' Flax classes)",
                          writes: nil)
    }

    public var usesHuggingFaceConfig: Bool { true }

    public func match(_ probe: FileProbe) -> FormatMatch? {
        guard let file = probe.file else { return nil }
        if probe.hasSuffix(".json") {
            return ShardIndex.firstShard(indexPath: probe.path)?.hasSuffix(".msgpack") == true ? .signature : nil
        }
        guard file.withBytes({ FlaxCheckpoint.recognizes($0) }) else { return nil }
        // A map with a string key is a weak signature: the name makes it strong.
        return probe.hasSuffix(".msgpack") ? .signatureAndName : .name
    }

    public func claim(folder: String, names: [String]) throws -> FolderClaim? {
        if names.contains("flax_model.msgpack.index.json") { return .file("flax_model.msgpack.index.json") }
        return names.contains("flax_model.msgpack") ? .file("flax_model.msgpack") : nil
    }

    public func read(_ path: String, options: ReadOptions) throws -> Model {
        try FlaxCheckpoint.read(path: path, strict: options.strict)
    }
}
