import BinaryIO

/// One format as ModelPort lists it: in `modelport --help`, the README's format table and the documentation.
///
/// Each format target describes itself once; the pipeline's registry (`FormatRegistry` in `ModelPort`) collects
/// the descriptions, so the lists cannot fall behind what the code reads and writes.
public struct FormatDescription: Sendable, Hashable {
    /// A short stable name: the value of `--to` for formats ModelPort writes (`safetensors`, `gguf`), and the
    /// name reports and `--json` use.
    public var id: String
    /// The name people know it by (`PyTorch (pytorch_model.bin)`).
    public var name: String
    /// What is read, as file names and layouts (`*.safetensors, model.safetensors.index.json`); nil when the
    /// format is written only.
    public var reads: String?
    /// What is written; nil when the format is read only.
    public var writes: String?
    /// Destination names that imply this output (`.gguf`); empty for outputs chosen by `--to` or as the default.
    public var destinationSuffixes: [String]

    public init(id: String, name: String, reads: String?, writes: String?, destinationSuffixes: [String] = []) {
        self.id = id
        self.name = name
        self.reads = reads
        self.writes = writes
        self.destinationSuffixes = destinationSuffixes
    }
}

/// What a reader is shown of a path to decide whether it holds its format.
public struct FileProbe: Sendable {
    /// The path as given.
    public var path: String
    /// The file, mapped; nil when `path` does not exist (a TensorFlow prefix such as `model.ckpt` names files
    /// beside it) or is a folder.
    public var file: MappedFile?

    public init(path: String, file: MappedFile?) {
        self.path = path
        self.file = file
    }

    /// The first bytes of the file (empty when there is no file).
    public func startsWith(_ magic: [UInt8]) -> Bool {
        guard let file else { return false }
        return file.withBytes { bytes in bytes.count >= magic.count && zip(bytes, magic).allSatisfy { $0 == $1 } }
    }

    /// Whether the path ends with one of `suffixes`.
    public func hasSuffix(_ suffixes: String...) -> Bool { suffixes.contains { path.hasSuffix($0) } }
}

/// How strongly a reader claims a file.
public enum FormatMatch: Int, Comparable, Sendable {
    /// The name suggests the format (formats without a signature, such as Paddle programs).
    case name = 1
    /// The bytes carry the format's signature.
    case signature = 2
    /// The bytes carry a signature that several formats share, and the name settles which (a pickle in a `.pdparams`).
    case signatureAndName = 3

    public static func < (a: FormatMatch, b: FormatMatch) -> Bool { a.rawValue < b.rawValue }
}

/// What a reader finds in a folder.
public enum FolderClaim: Sendable, Equatable {
    /// The folder holds this format in this file (or index) in it, which the reader reads; for readers that use
    /// Hugging Face config conventions, the pipeline then adds `config.json`, the tokenizer files and the
    /// sentence-transformers modules beside it.
    case file(String)
    /// The folder is one of the format's own layouts, read whole by the reader (a TensorFlow checkpoint folder, a
    /// PaddleNLP or PaddleHub folder).
    case layout
}

/// How readers read.
public struct ReadOptions: Sendable {
    /// Make a tensor that matches no naming rule an error instead of a note.
    public var strict: Bool

    public init(strict: Bool = false) {
        self.strict = strict
    }
}

/// A format target's reader: recognizes its files and folders and reads them into the IR under Hugging Face
/// names and layouts.
///
/// Readers apply `ReaderLimits.current` to every size they take from a file.
public protocol ModelReader: Sendable {
    var description: FormatDescription { get }
    /// Whether `probe` is one of this format's files.
    func match(_ probe: FileProbe) -> FormatMatch?
    /// What this format finds in a folder holding the files `names` (sorted), or nil.
    func claim(folder: String, names: [String]) throws -> FolderClaim?
    /// Whether a single file of this format takes `config.json` (and nothing else) from its folder, as Hugging
    /// Face weight files do; formats with their own config conventions read them in `read`.
    var usesHuggingFaceConfig: Bool { get }
    /// Reads a file, or a folder this reader claimed as `.layout`.
    func read(_ path: String, options: ReadOptions) throws -> Model
}

extension ModelReader {
    public var usesHuggingFaceConfig: Bool { false }
}

/// A destination kind with its own options (GGUF types, shard sizes, packing): prepares a model for itself and
/// writes it.
public protocol ModelOutput: Sendable {
    var description: FormatDescription { get }
    /// The model as it will be stored: renamed, cast, quantized or packed for this output (lazily), with what was
    /// dropped and noted.
    func prepare(_ model: Model) throws -> PreparedOutput
    /// Writes the prepared model to `destination` (a file or folder), atomically; returns the file names written.
    func write(_ prepared: PreparedOutput, to destination: String, options: OutputOptions) throws -> [String]
}

/// A model as an output stores it, and which stored tensors stand for which source tensors where the output
/// renames them (so the quality report can compare them).
public struct PreparedOutput: Sendable {
    public var model: Model
    /// Pairs of (source tensor, stored tensor) for outputs that rename; nil when stored names are source names.
    public var correspondence: [(source: Tensor, stored: Tensor)]?
    /// What the output computed in `prepare` for its `write` (GGUF's metadata, say).
    public var extra: (any Sendable)?

    public init(model: Model, correspondence: [(source: Tensor, stored: Tensor)]? = nil, extra: (any Sendable)? = nil) {
        self.model = model
        self.correspondence = correspondence
        self.extra = extra
    }
}
