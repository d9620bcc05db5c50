/// A file that travels with the weights (vocabulary, tokenizer, pooling config) and is copied to outputs.
public struct AuxiliaryFile: Hashable, Sendable {
    /// The path relative to the model folder, as it should appear in the output (`vocab.txt`,
    /// `1_Pooling/config.json`).
    public var name: String
    /// Where the file is now (empty when `contents` holds it).
    public var sourcePath: String
    /// The file's bytes, for files a reader rebuilt (a GGUF's vocabulary) rather than found on disk.
    public var contents: [UInt8]?

    public init(name: String, sourcePath: String) {
        self.name = name
        self.sourcePath = sourcePath
    }

    public init(name: String, contents: [UInt8]) {
        self.name = name
        self.sourcePath = ""
        self.contents = contents
    }

    /// Whether `token` can be one line of a `vocab.txt` (no line feed or carriage return, not empty), so that
    /// line numbers stay token ids.
    public static func fitsOneLine(_ token: String) -> Bool {
        !token.isEmpty && !token.utf8.contains(0x0A) && !token.utf8.contains(0x0D)
    }
}

/// A tensor that a reader or transform left out on purpose, kept so the CLI can say what and why.
public struct DroppedTensor: Hashable, Sendable {
    /// Why a tensor was left out.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// Training state inference never needs: optimizer slots, step counters.
        case trainingState
        /// A buffer the architecture computes itself (`position_ids`).
        case buffer
        /// A head (pooler, pre-training or task head) the requested class or output does not hold.
        case head
        /// An encoder layer that the layer selection left out.
        case layerNotSelected
        /// The output format has no place for it (llama.cpp's BERT graph loads no other tensors).
        case notInOutput
        /// Data that is not a weight ModelPort can convert (strings, the TF2 object graph).
        case notConvertible
    }

    public var name: String
    public var kind: Kind
    /// The reason in words, for reports.
    public var reason: String
    public var byteCount: Int

    public init(name: String, kind: Kind, reason: String, byteCount: Int) {
        self.name = name
        self.kind = kind
        self.reason = reason
        self.byteCount = byteCount
    }
}

/// The normalized, lazy in-memory model every reader produces and every writer consumes.
///
/// Tensors are ordered; their bytes stay where they are until a writer or the verifier asks
/// (`DESIGN.md`, "The IR"). Names are the canonical Hugging Face names of the architecture.
public struct Model: Sendable {
    public var tensors: [Tensor]
    public var config: ModelConfig
    /// Free-form string metadata (a safetensors `__metadata__`, a GGUF's general.* keys, ...).
    public var metadata: Metadata
    /// Files to carry along to the output.
    public var auxiliaryFiles: [AuxiliaryFile]
    /// What was left out, and why.
    public var dropped: [DroppedTensor]
    /// Things the user should know about how the model was read or changed.
    public var notes: [Note]
    /// The format the model was read from, in words (`safetensors`, `Hugging Face folder (safetensors)`).
    public var sourceFormat: String
    /// The sentence-transformers modules after the encoder (pooling, Dense, Normalize), when the source has them.
    public var pipeline: SentencePipeline? = nil
    /// The type the reader expanded the weights from, when they are stored quantized but read as floats (an int8
    /// ONNX graph's weights come back as f32): what a comparison of this model should expect of its accuracy.
    public var expandedFrom: DType? = nil

    public init(
        tensors: [Tensor], config: ModelConfig = ModelConfig(), metadata: Metadata = [:],
        auxiliaryFiles: [AuxiliaryFile] = [], dropped: [DroppedTensor] = [], notes: [Note] = [],
        sourceFormat: String = "memory"
    ) {
        self.tensors = tensors
        self.config = config
        self.metadata = metadata
        self.auxiliaryFiles = auxiliaryFiles
        self.dropped = dropped
        self.notes = notes
        self.sourceFormat = sourceFormat
    }

    /// The tensor named `name`, if any.
    public subscript(name: String) -> Tensor? { tensors.first { $0.name == name } }

    /// The total number of elements over all tensors (`nil` when a shape or the sum overflows).
    public var parameterCount: Int? {
        var total = 0
        for t in tensors {
            guard let n = t.info.elementCount else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(n)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    /// The total number of data bytes over all tensors (`nil` when a shape or the sum overflows).
    public var byteCount: Int? {
        var total = 0
        for t in tensors {
            guard let n = t.info.byteCount else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(n)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    /// Checks that names are unique and every tensor has a valid byte size.
    public func validate() throws {
        var seen = Set<String>()
        for t in tensors {
            guard seen.insert(t.name).inserted else {
                throw ModelError(location: .tensor(t.name), "appears twice in the model")
            }
            guard t.info.byteCount != nil else {
                throw ModelError(location: .tensor(t.name), "shape \(t.shape) of \(t.dtype.rawValue) has no valid byte size")
            }
        }
    }
}

extension Model {
    /// The float type most of the weights have (the one `config.json` records as `torch_dtype`).
    public var mainFloatType: DType? {
        var bytes: [DType: Int] = [:]
        for t in tensors where t.dtype.isFloatingPoint { bytes[t.dtype, default: 0] += t.info.byteCount ?? 0 }
        return bytes.max { $0.value < $1.value }?.key
    }
}
