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
}
