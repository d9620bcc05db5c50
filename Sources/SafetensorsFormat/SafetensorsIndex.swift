import BinaryIO
import ModelIR

/// Sharded checkpoints: `model.safetensors.index.json` plus `model-0000i-of-0000n.safetensors`
/// (transformers' `save_pretrained` with `max_shard_size`).
public enum SafetensorsIndex {
    /// Reads every shard named by the index at `path`, checking that each tensor the index lists is in the
    /// shard it names and that no tensor is in two shards. Tensors come in shard order.
    public static func read(indexPath path: String) throws -> (tensors: [Tensor], metadata: Metadata) {
        let contents = try ShardIndex.readShards(indexPath: path) { shard in
            let (tensors, metadata) = try SafetensorsReader.read(path: shard)
            return (tensors, metadata, [])
        }
        return (contents.tensors, contents.metadata)
    }

    /// Splits `tensors` (in their order) into shards as `huggingface_hub` does: a shard is closed when the
    /// next tensor would push it past `maxShardBytes`; a tensor larger than the limit gets a shard of its own.
    public static func shard(_ tensors: [Tensor], maxShardBytes: Int) -> [[Tensor]] {
        var shards: [[Tensor]] = []
        var current: [Tensor] = []
        var currentBytes = 0
        for tensor in tensors {
            let size = tensor.info.byteCount ?? 0
            if size > maxShardBytes {
                shards.append([tensor])
                continue
            }
            if currentBytes + size > maxShardBytes, !current.isEmpty {
                shards.append(current)
                current = []
                currentBytes = 0
            }
            current.append(tensor)
            currentBytes += size
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        return shards
    }

    /// Writes `tensors` into `folder` as `model.safetensors`, or, when they exceed `maxShardBytes`, as
    /// numbered shards plus `model.safetensors.index.json`. Returns the file names written.
    @discardableResult
    public static func write(
        _ tensors: [Tensor], metadata: Metadata, folder: String, baseName: String = "model",
        maxShardBytes: Int?, options: OutputOptions = .init()
    ) throws -> [String] {
        let shards = maxShardBytes.map { shard(tensors, maxShardBytes: $0) } ?? [tensors]
        if shards.count == 1 {
            let name = baseName + ".safetensors"
            try SafetensorsWriter.write(tensors, metadata: metadata, to: folder + "/" + name, options: options)
            return [name]
        }
        var names: [String] = []
        var weightMap: [(key: String, value: JSON)] = []
        var totalSize = 0
        for (i, shard) in shards.enumerated() {
            let name = "\(baseName)-\(paddedNumber(i + 1))-of-\(paddedNumber(shards.count)).safetensors"
            try SafetensorsWriter.write(shard, metadata: metadata, to: folder + "/" + name, options: options)
            names.append(name)
            for tensor in shard {
                weightMap.append((tensor.name, .string(name)))
                totalSize += tensor.info.byteCount ?? 0
            }
        }
        weightMap.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        let index = JSON.object([
            ("metadata", .object([("total_size", .integer(totalSize))])),
            ("weight_map", .object(weightMap)),
        ])
        let indexName = baseName + ".safetensors.index.json"
        let file = try AtomicFile(destination: folder + "/" + indexName, existing: options.existing)
        try file.write(Array((index.serialized(.pretty) + "\n").utf8))
        try file.commit()
        return names + [indexName]
    }

    private static func paddedNumber(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }
}
