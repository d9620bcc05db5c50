import BinaryIO
import GGUFFormat
import ModelIR
import Transforms
import Verifier

/// Which encoder layers to keep.
public enum LayerSelection: Sendable, Equatable {
    /// The first N layers (`--keep-layers N`).
    case first(Int)
    /// These layers, renumbered in this order (`--layers 0,1,2`).
    case list([Int])
}

/// What `convert` should do, with defaults for everything.
public struct ConversionOptions: Sendable {
    /// The output kind; `nil` means implied by the destination's name.
    public var format: OutputFormat?
    /// The float type to cast to; `nil` keeps the source's types.
    public var dtype: DType?
    public var layers: LayerSelection?
    /// For Hugging Face folders: split the weights into shards of at most this many bytes.
    public var maxShardBytes: Int?
    public var output: OutputOptions
    public var load: LoadOptions
    /// For GGUF: keep the pooler and pre-training heads llama.cpp does not use.
    public var keepHeads = false
    /// Drop the pooler and pre-training heads (any output).
    public var dropHeads = false
    /// Measure every changed tensor and the end-to-end parity (always done for quantized outputs).
    public var qualityReport = false
    /// Refuse the output (nothing is written) when the end-to-end cosine falls below this.
    public var minCosine: Double?
    /// Skip the quality report and end-to-end check that quantizing runs by default (`--no-quality`).
    public var skipQuality = false
    /// GGUF: per-tensor type rules (`--keep-f32`, `--tensor-type`, presets), ahead of `dtype`.
    public var typePolicy = TypePolicy()
    /// GGUF: a preset (`q4_k_m`, `q5_k_m`: llama-quantize's mixes; `mixed-q4`, `mixed-q5`), which sets `dtype` and
    /// chooses the types of the tensors the user's rules leave.
    public var preset: String?
    /// Keep only the vocabulary this corpus uses (`--vocab-from FILE`).
    public var vocabFrom: String?
    /// Hugging Face / safetensors: store weights quantized by a packed scheme (`--dtype int8|mlx4|mlx8`).
    public var packed: PackedScheme?

    public init(format: OutputFormat? = nil, dtype: DType? = nil, layers: LayerSelection? = nil,
                maxShardBytes: Int? = nil, output: OutputOptions = .init(), load: LoadOptions = .init()) {
        self.load = load
        self.format = format
        self.dtype = dtype
        self.layers = layers
        self.maxShardBytes = maxShardBytes
        self.output = output
    }
}

/// What a conversion did, for the CLI's summary and `--json`.
public struct ConversionReport: Sendable {
    public var source: String
    public var sourceFormat: String
    public var destination: String
    public var format: OutputFormat
    public var files: [String]
    public var tensorCount: Int
    public var bytesWritten: Int
    public var dropped: [DroppedTensor]
    public var notes: [String]
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

/// The pipeline: read → transform (select layers, cast) → write.
public enum Converter {
    /// Applies the options' transforms to a model, lazily.
    public static func transform(_ model: Model, options: ConversionOptions) throws -> Model {
        var model = model
        if options.dropHeads { model = model.droppingHeads() }
        switch options.layers {
        case .first(let n)?: model = try model.keepingFirstLayers(n)
        case .list(let layers)?: model = try model.selectingLayers(layers)
        case nil: break
        }
        // GGUF applies its own per-tensor type policy (norms and position tables stay F32) when it writes.
        if let dtype = options.dtype, options.format != .gguf { model = try model.casting(to: dtype) }
        if let scheme = options.packed { model = try model.quantizingPacked(scheme) }
        try model.validate()
        return model
    }

    /// Converts `source` into `destination`.
    public static func convert(source: String, destination: String, options: ConversionOptions) throws -> ConversionReport {
        var options = options
        let format = options.format ?? OutputFormat.implied(by: destination)
        options.format = format
        if options.output.existing == .refuse, fileExists(destination) {
            throw ModelError(file: destination, "already exists (use --force to replace it)")
        }
        if let source = realPath(source), let target = realPath(destination), source == target || source.hasPrefix(target + "/") {
            throw ModelError(file: destination, "holds the source \(source); writing there would replace it")
        }
        if options.maxShardBytes != nil, format != .hf {
            throw ModelError("--max-shard-size applies to Hugging Face folder output (--to hf)")
        }
        if let preset = options.preset {
            guard format == .gguf else { throw ModelError("--preset applies to GGUF output (--to gguf)") }
            let layers = try transform(try ModelLoader.load(source, options: options.load), options: options).layerCount ?? 1
            let (main, rules) = try TypePolicy.preset(preset, layers: layers)
            options.dtype = main
            options.typePolicy.rules += rules.rules
            options.typePolicy.llamaMix = rules.llamaMix
        }
        if !options.typePolicy.rules.isEmpty, format != .gguf {
            throw ModelError("--keep-f32 / --tensor-type apply to GGUF output (--to gguf)")
        }
        if options.packed != nil, format != .hf, format != .safetensors {
            throw ModelError("--dtype int8 / mlx4 / mlx8 apply to Hugging Face folder or safetensors output")
        }
        var loaded = try ModelLoader.load(source, options: options.load).dequantizingPacked()
        // The pruned vocabulary is the reference too: the quality report compares like with like.
        if let corpus = options.vocabFrom { loaded = try VocabularySelection.prune(loaded, corpus: corpus) }
        var model = try transform(loaded, options: options)
        if format != .gguf { model = try model.dequantizingBlocks() }
        var uncast = options
        uncast.dtype = nil
        uncast.packed = nil
        let reference = try transform(loaded, options: uncast)
        let measure = (options.qualityReport || options.minCosine != nil || (options.dtype?.isQuantized ?? false)
            || options.typePolicy.rules.contains { $0.dtype.isQuantized } || options.packed != nil) && !options.skipQuality
        // With --min-cosine the output is checked before it takes DEST's name.
        let target = options.minCosine != nil ? stagingPath(beside: destination) : destination
        var output = options.output
        if target != destination { output.existing = .refuse }
        let files: [String]
        var pairs: [(name: String, reference: Tensor, candidate: Tensor)] = []
        switch format {
        case .hf:
            files = try ModelWriter.writeHuggingFaceFolder(model, to: target, maxShardBytes: options.maxShardBytes, options: output)
        case .safetensors:
            try ModelWriter.writeSafetensors(model, to: target, options: output)
            files = [splitPath(destination).name]
        case .pytorch:
            if destination.hasSuffix(".bin") || destination.hasSuffix(".pt") || destination.hasSuffix(".pth") {
                try ModelWriter.writePyTorch(model, to: target, options: output)
                files = [splitPath(destination).name]
            } else {
                files = try ModelWriter.writePyTorchFolder(model, to: target, options: output)
            }
        case .paddle:
            model = try ModelWriter.paddleModel(model)
            if destination.hasSuffix(".pdparams") {
                try ModelWriter.writePaddle(model, to: target, options: output)
                files = [splitPath(destination).name]
            } else {
                files = try ModelWriter.writePaddleFolder(model, to: target, options: output)
            }
        case .gguf:
            let (tensors, metadata, dropped, notes, sources) = try GGUFConversion.export(model, dtype: options.dtype, keepHeads: options.keepHeads,
                                                                                     policy: options.typePolicy)
            try GGUFWriter.write(tensors, metadata: metadata, to: target, options: output)
            pairs = zip(sources, tensors).filter { $0.dtype != $1.dtype }.map { ($1.name, $0, $1) }
            model.tensors = tensors
            model.dropped += dropped
            model.notes += notes
            files = [splitPath(destination).name]
        }
        var quality: [TensorQuality] = []
        var parity: ParityReport?
        if measure {
            let stored = Dictionary(model.tensors.map { ($0.name, $0.dtype) }, uniquingKeysWith: { a, _ in a })
            if format != .gguf {
                let originals = Dictionary(reference.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                // Packed weights are measured through their expansion; a tensor changed if it was cast or packed.
                pairs = try model.dequantizingPacked().tensors.compactMap { t in
                    guard let original = originals[t.name], original.dtype != t.dtype || stored[t.name] != t.dtype else { return nil }
                    return (t.name, original, t)
                }
            }
            do {
                quality = try pairs.filter { $0.reference.dtype.isFloatingPoint }.map {
                    var measured = try TensorQuality.measure(name: $0.name, reference: $0.reference, candidate: $0.candidate)
                    measured.dtype = stored[$0.name] ?? measured.dtype  // as stored (i8, u32 for packed weights)
                    return measured
                }
                var candidate = try ModelLoader.load(target)
                candidate.config = model.config
                let inputs = try Verification.inputs(from: nil, for: [reference])
                parity = try Verification.verify(reference: reference, candidate: candidate, inputs: inputs,
                                                 tolerance: options.minCosine.map { Tolerance(minCosine: $0) })
            } catch {
                if options.minCosine != nil {
                    removeTree(target)
                    throw ModelError("--min-cosine needs an end-to-end check, which failed: \(error); nothing was written")
                }
                model.notes.append("no end-to-end parity: \(error)")
            }
        }
        if let minimum = options.minCosine, let parity {
            guard parity.last.cosineSimilarity >= minimum else {
                removeTree(target)
                throw ModelError("end-to-end cosine \(parity.last.cosineSimilarity) is below --min-cosine \(minimum); nothing was written")
            }
        }
        if target != destination { try moveIntoPlace(target, destination, existing: options.output.existing) }
        return ConversionReport(
            source: source, sourceFormat: model.sourceFormat, destination: destination, format: format, files: files,
            tensorCount: model.tensors.count, bytesWritten: model.byteCount ?? 0, dropped: model.dropped, notes: model.notes,
            parametersBefore: loaded.parameterCount ?? 0, parametersAfter: model.parameterCount ?? 0,
            layersBefore: loaded.layerCount, layersKept: {
                switch options.layers {
                case .first(let n)?: return Array(0..<n)
                case .list(let list)?: return list
                case nil: return nil
                }
            }(), tensorQuality: quality, parity: parity)
    }
}
