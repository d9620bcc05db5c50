import BinaryIO

/// The files a tokenizer may be built from, by their name in a model folder (`vocab.txt`, `tokenizer.json`, …): on
/// disk or already in memory (a vocabulary a GGUF reader rebuilt). Every read is capped by ``TokenizerLimits``.
public struct TokenizerFiles: Sendable {
    public enum Source: Sendable {
        case path(String)
        case bytes([UInt8])
    }

    /// The names a tokenizer may be read from, in the order the factory considers them.
    public static let knownNames = [
        "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "tokenizer.json", "spiece.model", "sentencepiece.bpe.model",
        "vocab.json", "merges.txt", "vocab.txt", "config.json", "sp.model", "dict.txt",
    ]

    public var files: [String: Source]
    public var limits: TokenizerLimits

    public init(files: [String: Source], limits: TokenizerLimits = TokenizerLimits()) {
        self.files = files
        self.limits = limits
    }

    /// The known tokenizer files of a model folder.
    public static func folder(_ path: String, limits: TokenizerLimits = TokenizerLimits()) -> TokenizerFiles {
        var files: [String: Source] = [:]
        for name in knownNames where fileExists(path + "/" + name) { files[name] = .path(path + "/" + name) }
        return TokenizerFiles(files: files, limits: limits)
    }

    public func has(_ name: String) -> Bool { files[name] != nil }

    /// Where a file is, for error messages.
    public func location(_ name: String) -> String {
        if case .path(let path) = files[name] { return path }
        return name
    }

    /// A file's bytes, nil when the file is not there.
    public func bytes(_ name: String) throws -> [UInt8]? {
        switch files[name] {
        case nil:
            return nil
        case .bytes(let bytes)?:
            guard bytes.count <= limits.maxFileBytes else { throw tooLarge(name, bytes.count) }
            return bytes
        case .path(let path)?:
            do {
                let file = try MappedFile(path: path)
                guard file.count <= limits.maxFileBytes else { throw tooLarge(name, file.count) }
                return file.withBytes { Array($0) }
            } catch let error as TokenizerError {
                throw error
            } catch {
                throw TokenizerError(.malformed, file: path, "cannot read: \(error)")
            }
        }
    }

    /// A file as UTF-8 text.
    public func text(_ name: String) throws -> String? {
        guard let bytes = try bytes(name) else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError(.malformed, file: location(name), "not UTF-8 text")
        }
        return text
    }

    /// A file as JSON (nesting capped).
    public func json(_ name: String) throws -> JSON? {
        guard let bytes = try bytes(name) else { return nil }
        do {
            return try bytes.withUnsafeBytes {
                try JSON.parse($0, path: location(name), limits: JSON.ParsingLimits(maxDepth: limits.maxDepth))
            }
        } catch {
            throw TokenizerError(.malformed, file: location(name), "not valid JSON: \(Self.reason(error))")
        }
    }

    private func tooLarge(_ name: String, _ count: Int) -> TokenizerError {
        TokenizerError(.malformed, file: location(name), "\(count) bytes is over the \(limits.maxFileBytes)-byte limit for a tokenizer file")
    }

    static func reason(_ error: any Error) -> String {
        if let io = error as? BinaryIOError { return (io.offset.map { "offset \($0): " } ?? "") + io.reason }
        return String(describing: error)
    }
}
