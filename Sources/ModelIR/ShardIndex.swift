import BinaryIO

/// The `*.index.json` file transformers writes beside sharded weights (`model.safetensors.index.json`,
/// `pytorch_model.bin.index.json`): which shard file holds each tensor.
///
/// Shard names are plain file names beside the index (never a path that could leave the folder). Reading is
/// linear in the number of entries, however many distinct shards they name.
public struct ShardIndex: Sendable {
    /// The shard files in the order the index first names them.
    public var shards: [String]
    /// Tensor name → shard file.
    public var owners: [String: String]

    /// Parses the index at `path`.
    public init(contentsOf path: String) throws {
        let index: JSON
        do { index = try JSON.parse(contentsOf: path) } catch { throw ModelError(error, file: path) }
        guard case .object = index, let weightMap = index["weight_map"]?.objectValue else {
            throw ModelError(file: path, "index must be an object with a \"weight_map\" object")
        }
        var shards: [String] = []
        var seen = Set<String>()
        var owners: [String: String] = [:]
        for (name, value) in weightMap {
            guard let shard = value.stringValue else {
                throw ModelError(file: path, location: .key(name), "shard must be a file name string")
            }
            guard isPlainFileName(shard), !shard.hasPrefix(".") else {
                throw ModelError(file: path, location: .key(name), "shard \"\(shard)\" must be a plain file name beside the index")
            }
            if seen.insert(shard).inserted { shards.append(shard) }
            owners[name] = shard
        }
        self.shards = shards
        self.owners = owners
    }

    /// Checks that every tensor the index lists was found in the shard it names (`found`: tensor → shard).
    public func checkListed(against found: [String: String], indexPath: String) throws {
        for (name, shard) in owners where found[name] != shard {
            throw ModelError(file: indexPath, location: .tensor(name), "listed in \(shard) but not stored there")
        }
    }

    /// Reads every shard the index at `indexPath` names with `readShard`, checking that each tensor the index lists
    /// is in the shard it names and that no tensor is in two shards. Tensors come in shard order; metadata and notes
    /// are merged.
    public static func readShards(
        indexPath: String, readShard: (_ path: String) throws -> (tensors: [Tensor], metadata: Metadata, notes: [Note])
    ) throws -> (tensors: [Tensor], metadata: Metadata, notes: [Note]) {
        let index = try ShardIndex(contentsOf: indexPath)
        let folder = splitPath(indexPath).folder
        var tensors: [Tensor] = []
        var metadata = Metadata()
        var notes: [Note] = []
        var owner: [String: String] = [:]
        for shard in index.shards {
            let shardPath = folder + "/" + shard
            let contents = try readShard(shardPath)
            metadata.merge(contents.metadata)
            notes += contents.notes
            for tensor in contents.tensors {
                if let other = owner[tensor.name] {
                    throw ModelError(file: shardPath, location: .tensor(tensor.name), "also stored in \(other)")
                }
                owner[tensor.name] = shard
                tensors.append(tensor)
            }
        }
        try index.checkListed(against: owner, indexPath: indexPath)
        return (tensors, metadata, notes)
    }

    /// The first shard file an index names, without checking the rest (to tell which format its shards hold).
    public static func firstShard(indexPath: String) -> String? {
        guard let index = try? JSON.parse(contentsOf: indexPath) else { return nil }
        return index["weight_map"]?.objectValue?.first?.value.stringValue
    }
}
