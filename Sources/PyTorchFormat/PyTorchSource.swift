import BinaryIO
import ModelIR
import Transforms

/// PyTorch checkpoints as a ModelPort format: `torch.save` files (zip, and the legacy pickle format), sharded with
/// `pytorch_model.bin.index.json`, alone or in a Hugging Face folder. Pickles are interpreted, never executed.
public struct PyTorchSource: ModelReader {
    public init() {}

    public var description: FormatDescription {
        FormatDescription(id: "pytorch", name: "PyTorch",
                          reads: "`pytorch_model.bin` / `*.pt` / `*.pth` (zip and legacy `torch.save`), `pytorch_model.bin.index.json` with its shards",
                          writes: "`pytorch_model.bin` (zip), alone or in a folder with `config.json` and tokenizer files",
                          destinationSuffixes: [".bin", ".pt", ".pth"])
    }

    public var usesHuggingFaceConfig: Bool { true }

    public func match(_ probe: FileProbe) -> FormatMatch? {
        guard let file = probe.file else { return nil }
        if probe.path.hasSuffix(".json"), file.withBytes({ $0.first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) } }) == UInt8(ascii: "{") {
            guard let shard = ShardIndex.firstShard(indexPath: probe.path) else { return nil }
            return shard.hasSuffix(".bin") ? .signature : nil
        }
        return file.withBytes { bytes -> FormatMatch? in
            let count = bytes.count
            if count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 0x03, bytes[3] == 0x04 { return .signature }  // zip
            // a tar archive (torch ≤ 0.1): recognized so that the reader refuses it with its own message
            if count >= 262, Array(bytes[257..<262]) == Array("ustar".utf8) { return .signature }
            if count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) { return .signature }  // a pickle's PROTO opcode
            return nil
        }
    }

    public func claim(folder: String, names: [String]) throws -> FolderClaim? {
        if names.contains("pytorch_model.bin.index.json") { return .file("pytorch_model.bin.index.json") }
        return try HuggingFaceFolder.single(names.filter { $0.hasSuffix(".bin") }, preferred: "pytorch_model.bin", in: folder)
            .map(FolderClaim.file)
    }

    public func read(_ path: String, options: ReadOptions) throws -> Model {
        if path.hasSuffix(".json") {
            let contents = try ShardIndex.readShards(indexPath: path) { shard in
                let contents = try PyTorchCheckpoint.read(path: shard)
                return (contents.tensors, [:], contents.notes)
            }
            return Model(tensors: contents.tensors, notes: contents.notes, sourceFormat: "sharded PyTorch (index.json)")
        }
        let contents = try PyTorchCheckpoint.read(path: path)
        let zip = (try? MappedFile(path: path))?.withBytes { $0.count >= 2 && $0[0] == 0x50 && $0[1] == 0x4B } ?? false
        return Model(tensors: contents.tensors, notes: contents.notes,
                     sourceFormat: zip ? "PyTorch zip checkpoint" : "PyTorch legacy checkpoint")
    }
}

/// `pytorch_model.bin` out (the zip format of `torch.save`): one file when the destination ends in `.bin`, `.pt`
/// or `.pth`, else a folder with `config.json` and the tokenizer files.
public struct PyTorchOutput: ModelOutput {
    public init() {}

    public var description: FormatDescription { PyTorchSource().description }

    public func prepare(_ model: Model) throws -> PreparedOutput { PreparedOutput(model: try model.dequantizingBlocks()) }

    public func write(_ prepared: PreparedOutput, to destination: String, options: OutputOptions) throws -> [String] {
        let model = prepared.model
        if [".bin", ".pt", ".pth"].contains(where: destination.hasSuffix) {
            try PyTorchWriter.write(model.tensors, to: destination, options: options)
            return [splitPath(destination).name]
        }
        return try ModelFolder.write(model, to: destination, options: options) { folder, inner in
            try PyTorchWriter.write(model.tensors, to: folder + "/pytorch_model.bin", options: inner)
            return ["pytorch_model.bin"]
        }
    }
}
