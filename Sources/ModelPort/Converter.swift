import BinaryIO
import ModelIR
import Transforms
import Verifier

/// Which encoder layers to keep.
public enum LayerSelection: Sendable, Equatable {
    /// The first N layers.
    case first(Int)
    /// These layers, renumbered in this order.
    case list([Int])

    /// The layer numbers kept, in order.
    public var layers: [Int] {
        switch self {
        case .first(let n): return Array(0..<max(n, 0))
        case .list(let list): return list
        }
    }
}

/// One step applied to a model between reading and writing, in the order given. Every step is lazy: tensors are
/// computed when the output writes them.
public enum ModelTransform: Sendable, Equatable {
    /// Drop the pooler and pre-training heads (task heads of fine-tuned models stay).
    case dropHeads
    /// Keep some encoder layers, renumbered (RBT3 is `.selectLayers(.first(3))` of RoBERTa-wwm-ext).
    case selectLayers(LayerSelection)
    /// Keep only the WordPiece tokens a corpus (a UTF-8 text file) uses, and the special tokens: `vocab.txt`, the
    /// word embeddings and a tied MLM decoder shrink together.
    case pruneVocabulary(corpus: String)
    /// Cast floating-point tensors (f32, f16, bf16, f64); integer tensors keep their type.
    case cast(DType)

    /// Whether the step loses information (a cast); the quality check compares against the source with every
    /// other step applied.
    var isLossy: Bool {
        if case .cast = self { return true }
        return false
    }
}

/// When a conversion measures what it changed (each changed tensor's error, and the end-to-end parity of the
/// written output against the source, through the verifier).
public enum QualityCheck: Sendable, Equatable {
    /// When the output quantizes or packs weights.
    case automatic
    /// Never.
    case off
    /// Always.
    case always
    /// Always, and the output is refused (nothing is written) when the end-to-end cosine similarity of the last hidden
    /// state is below this.
    case require(minimumCosine: Double)
}

/// What `Converter.convert` should do, with defaults for everything.
public struct ConversionOptions: Sendable {
    /// Where and how to write: `HuggingFaceOutput`, `SafetensorsOutput`, `PyTorchOutput`, `GGUFOutput`,
    /// `PaddleOutput`, each with its own options. Nil: implied by the destination's name
    /// (`FormatRegistry.output(impliedBy:)`).
    public var output: (any ModelOutput)?
    /// Applied in order after reading.
    public var transforms: [ModelTransform]
    public var quality: QualityCheck
    /// What to do with an existing destination, and progress.
    public var writing: OutputOptions
    public var load: LoadOptions

    public init(output: (any ModelOutput)? = nil, transforms: [ModelTransform] = [], quality: QualityCheck = .automatic,
                writing: OutputOptions = .init(), load: LoadOptions = .init()) {
        self.output = output
        self.transforms = transforms
        self.quality = quality
        self.writing = writing
        self.load = load
    }
}

/// What a conversion did.
public struct ConversionReport: Sendable {
    public var source: String
    /// The source's format, and its layout in words (`Hugging Face folder (safetensors)`).
    public var sourceFormat: FormatDescription
    public var sourceLayout: String
    public var architecture: Architecture
    public var destination: String
    /// The output's format.
    public var format: FormatDescription
    /// The names of the files written (inside `destination` for folders).
    public var files: [String]
    public var tensorCount: Int
    public var bytesWritten: Int
    /// Tensors of the source left out, each with its reason.
    public var dropped: [DroppedTensor]
    public var notes: [Note]
    /// Parameters and layers of the source and of the result (for the summary of a truncation).
    public var parametersBefore: Int
    public var parametersAfter: Int
    public var layersBefore: Int?
    public var layersKept: [Int]?
    /// Per changed tensor: error of the converted weight against the source (when measured).
    public var tensorQuality: [TensorQuality] = []
    /// The verifier's end-to-end parity of the written output against the source (when measured).
    public var parity: ParityReport?
}

/// The pipeline: read → transform → prepare for the output → write → measure.
///
/// ```swift
/// var options = ConversionOptions(output: GGUFOutput(types: .uniform(.q8_0)))
/// options.transforms = [.selectLayers(.first(3))]
/// let report = try Converter.convert(source: "chinese-roberta-wwm-ext", destination: "rbt3-q8_0.gguf", options: options)
/// print(report.parity?.last.cosineSimilarity ?? 1)
/// ```
public enum Converter {
    /// Applies `transforms` to a model, in order and lazily, and checks the result.
    public static func transform(_ model: Model, _ transforms: [ModelTransform]) throws -> Model {
        var model = model
        for step in transforms {
            switch step {
            case .dropHeads: model = model.droppingHeads()
            case .selectLayers(.first(let n)): model = try model.keepingFirstLayers(n)
            case .selectLayers(.list(let layers)): model = try model.selectingLayers(layers)
            case .pruneVocabulary(let corpus): model = try VocabularySelection.prune(model, corpus: corpus)
            case .cast(let dtype): model = try model.casting(to: dtype)
            }
        }
        try model.validate()
        return model
    }

    /// The model `convert` would write, without writing it (for progress, planning and `inspect`).
    public static func plan(source: String, destination: String, options: ConversionOptions) throws -> Model {
        let output = options.output ?? FormatRegistry.output(impliedBy: destination)
        let loaded = try ModelLoader.load(source, options: options.load).dequantizingPacked()
        return try output.prepare(try transform(loaded, options.transforms)).model
    }

    /// Converts `source` into `destination`.
    public static func convert(source: String, destination: String, options: ConversionOptions) throws -> ConversionReport {
        let output = options.output ?? FormatRegistry.output(impliedBy: destination)
        if options.writing.existing == .refuse, fileExists(destination) {
            throw ModelError(kind: .outputExists, file: destination, "already exists")
        }
        if let source = realPath(source), let target = realPath(destination), source == target || source.hasPrefix(target + "/") {
            throw ModelError(kind: .invalidRequest, file: destination, "holds the source \(source); writing there would replace it")
        }
        let (read, detected) = try ModelLoader.loadWithFormat(source, options: options.load)
        let loaded = try read.dequantizingPacked()
        // The reference for the quality check: every step but the lossy ones.
        let reference = try transform(loaded, options.transforms.filter { !$0.isLossy })
        let transformed = options.transforms.contains(where: \.isLossy) ? try transform(loaded, options.transforms) : reference
        let prepared = try output.prepare(transformed)
        var model = prepared.model
        let pairs = try changedTensors(prepared, reference: reference)
        let measure: Bool
        switch options.quality {
        case .off: measure = false
        case .always, .require: measure = true
        case .automatic: measure = pairs.contains { !$0.stored.dtype.isFloatingPoint || $0.stored.dtype.isQuantized }
        }
        var minimumCosine: Double?
        if case .require(let minimum) = options.quality { minimumCosine = minimum }
        // With a minimum the output is checked before it takes DEST's name.
        let target = minimumCosine != nil ? stagingPath(beside: destination) : destination
        var writing = options.writing
        if target != destination { writing.existing = .refuse }
        let files = try output.write(prepared, to: target, options: writing)
        var quality: [TensorQuality] = []
        var parity: ParityReport?
        if measure {
            do {
                var candidate = try ModelLoader.load(target)
                candidate.config = model.config
                // A cast or quantized tensor is measured as written (read back, mapped) rather than by computing it
                // again; packed weights (stored as codes and scales) through the expansion of the written codes and
                // scales, so they are not quantized a second time.
                let written = writtenTensors(candidate, prepared: prepared)
                let writtenExpanded = Dictionary(((try? candidate.dequantizingPacked()) ?? candidate).tensors.map { ($0.name, $0) },
                                                 uniquingKeysWith: { a, _ in a })
                quality = try pairs.filter { $0.source.dtype.isFloatingPoint }.map {
                    var read = $0.expanded
                    let back = $0.stored.dtype == $0.expanded.dtype ? written[$0.name] ?? written[$0.source.name] : writtenExpanded[$0.name]
                    if let back, back.dtype == $0.expanded.dtype, back.info.elementCount == $0.expanded.info.elementCount {
                        read = back
                    }
                    var measured = try TensorQuality.measure(name: $0.name, reference: $0.source, candidate: read)
                    measured.dtype = $0.stored.dtype  // as stored (i8, u32 for packed weights)
                    return measured
                }
                let inputs = try Verification.inputs(from: nil, for: [reference])
                parity = try Verification.verify(reference: reference, candidate: candidate, inputs: inputs,
                                                 tolerance: minimumCosine.map { Tolerance(minCosine: $0) })
            } catch {
                if minimumCosine != nil {
                    removeTree(target)
                    throw ModelError(kind: .belowRequiredQuality, file: destination,
                                     "a minimum cosine needs an end-to-end check, which failed: \(error); nothing was written",
                                     cause: error)
                }
                model.notes.append(Note(.quality, "no end-to-end parity: \(error)"))
            }
        }
        if let minimumCosine, let parity, !(parity.last.cosineSimilarity >= minimumCosine) {
            removeTree(target)
            throw ModelError(kind: .belowRequiredQuality, file: destination,
                             "end-to-end cosine \(parity.last.cosineSimilarity) is below the required \(minimumCosine); nothing was written")
        }
        if target != destination { try moveIntoPlace(target, destination, existing: options.writing.existing) }
        let selection = options.transforms.compactMap { step -> [Int]? in
            if case .selectLayers(let selection) = step { return selection.layers }
            return nil
        }.last
        return ConversionReport(
            source: source, sourceFormat: detected, sourceLayout: model.sourceFormat, architecture: model.config.architecture,
            destination: destination, format: output.description, files: files,
            tensorCount: model.tensors.count, bytesWritten: model.byteCount ?? 0, dropped: model.dropped, notes: model.notes,
            parametersBefore: loaded.parameterCount ?? 0, parametersAfter: model.parameterCount ?? 0,
            layersBefore: loaded.layerCount, layersKept: selection, tensorQuality: quality, parity: parity)
    }

    /// The tensors read back from the written output, by name. An output that renames its tensors (GGUF's
    /// `blk.N.…`) is read back under the library's names, so there the written tensors are matched with the
    /// prepared ones by position: the writers keep the prepared order, and the match is used only when every
    /// tensor's type and shape agree (otherwise a tensor is measured by computing it again, which is slower but
    /// gives the same figures).
    package static func writtenTensors(_ candidate: Model, prepared: PreparedOutput) -> [String: Tensor] {
        var written = Dictionary(candidate.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let stored = prepared.model.tensors
        if prepared.correspondence != nil, stored.count == candidate.tensors.count,
           zip(stored, candidate.tensors).allSatisfy({ $0.dtype == $1.dtype && $0.shape == $1.shape }) {
            for (kept, back) in zip(stored, candidate.tensors) { written[kept.name] = back }
        }
        return written
    }

    /// The stored tensors whose type differs from the reference's: (name, reference, stored, stored expanded to
    /// floats for measuring).
    static func changedTensors(_ prepared: PreparedOutput, reference: Model)
        throws -> [(name: String, source: Tensor, stored: Tensor, expanded: Tensor)]
    {
        if let correspondence = prepared.correspondence {
            return correspondence.filter { $0.source.dtype != $0.stored.dtype }.map { ($0.stored.name, $0.source, $0.stored, $0.stored) }
        }
        let stored = Dictionary(prepared.model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let originals = Dictionary(reference.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        // Packed weights are measured through their expansion; a tensor changed if it was cast or packed.
        return try prepared.model.dequantizingPacked().tensors.compactMap { t in
            guard let original = originals[t.name], let kept = stored[t.name], original.dtype != t.dtype || kept.dtype != t.dtype else { return nil }
            return (t.name, original, kept, t)
        }
    }
}
