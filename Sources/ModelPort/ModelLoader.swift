import BinaryIO
import ModelIR
import SafetensorsFormat
import Transforms

/// How sources are read.
public struct LoadOptions: Sendable {
    /// Make a tensor that matches no naming rule an error instead of a note.
    public var strict: Bool
    /// The caps the readers apply to the source (`ReaderLimits.current` when not given).
    public var limits: ReaderLimits
    /// The task and labels to assume where the source does not say.
    public var task: TaskOptions
    /// In a folder holding weights in several formats, read this file (a name in the folder) instead of the first
    /// in `FormatRegistry.readers` order.
    public var weightsFile: String?

    public init(strict: Bool = false, limits: ReaderLimits = .current, task: TaskOptions = .init(), weightsFile: String? = nil) {
        self.strict = strict
        self.limits = limits
        self.task = task
        self.weightsFile = weightsFile
    }
}

/// Reads any supported source into the IR: a file or folder of any format in `FormatRegistry`.
public enum ModelLoader {
    /// Reads `path`, recognizing its format from the bytes, under `options.limits`, and settles its task (head,
    /// labels; see `Model.applyingTask`).
    ///
    /// ```swift
    /// let model = try ModelLoader.load("hfl/chinese-roberta-wwm-ext")
    /// print(model.sourceFormat, model.config.architecture, model.tensors.count)
    /// ```
    public static func load(_ path: String, options: LoadOptions = .init()) throws -> Model {
        try loadWithFormat(path, options: options).model
    }

    /// `load`, and the format it read (detected once).
    static func loadWithFormat(_ path: String, options: LoadOptions) throws -> (model: Model, format: FormatDescription) {
        try ReaderLimits.$current.withValue(options.limits) {
            let (model, format) = try loadDetected(path, options: options)
            return (try model.applyingTask(options.task), format)
        }
    }

    /// The format `path` holds, without reading it.
    public static func format(of path: String) throws -> FormatDescription { try FormatRegistry.detect(path).reader.description }

    static func loadDetected(_ path: String, options: LoadOptions) throws -> (model: Model, format: FormatDescription) {
        var detection = try FormatRegistry.detect(path)
        if let chosen = options.weightsFile {
            detection = try choose(chosen, in: path)
        }
        let reader = detection.reader
        var model = try reader.read(detection.path, options: ReadOptions(strict: options.strict))
        guard reader.usesHuggingFaceConfig else { return (model, reader.description) }
        guard let folder = detection.folder else {
            return (try HuggingFaceFolder.withConfig(model, from: splitPath(detection.path).folder + "/config.json"), reader.description)
        }
        let inner = model.sourceFormat.hasSuffix(" (index.json)") ? String(model.sourceFormat.dropLast(" (index.json)".count)) : model.sourceFormat
        model.sourceFormat = "Hugging Face folder (\(inner))"
        model = try completeFolder(model, folder: folder)
        if !detection.alternatives.isEmpty {
            model.notes.append(Note(.info, "read \(splitPath(detection.path).name); the folder also holds \(detection.alternatives.joined(separator: ", "))"))
        }
        return (model, reader.description)
    }

    /// The reader for a weights file the caller named inside a folder.
    static func choose(_ name: String, in folder: String) throws -> FormatRegistry.Detection {
        guard isDirectory(folder) else {
            throw ModelError(kind: .invalidRequest, file: folder, "a weights file is chosen inside a folder; this is not one")
        }
        guard isPlainFileName(name) else {
            throw ModelError(kind: .invalidRequest, file: folder, "'\(name)' must be a file name in the folder")
        }
        var detection = try FormatRegistry.detect(folder + "/" + name)
        if detection.reader.usesHuggingFaceConfig { detection.folder = folder }
        return detection
    }

    /// A Hugging Face model folder's conventions: `config.json`, the tokenizer files, the sentence-transformers
    /// modules, and the task that a ModelScope `configuration.json` states.
    static func completeFolder(_ model: Model, folder: String) throws -> Model {
        var model = try HuggingFaceFolder.withConfig(model, from: folder + "/config.json")
        model.auxiliaryFiles = HuggingFaceFolder.auxiliaryFiles(in: folder)
        if let (pipeline, files) = try SentenceTransformersFolder.read(folder) {
            model.pipeline = pipeline
            model.auxiliaryFiles += files.filter { file in !model.auxiliaryFiles.contains { $0.name == file.name } }
        }
        // ModelScope folders state the task in configuration.json; it decides when config.json names no head.
        if model.config.statedHead == nil || model.config.statedHead == .encoder,
           let task = try? JSON.parse(contentsOf: folder + "/configuration.json")["task"]?.stringValue,
           let head = HeadKind(modelScopeTask: task), head != .sentenceEmbedding {
            model.config.setTask(head == .reranker ? .sequenceClassification : head, labels: nil)
            model.notes.append(Note(.task, "task from ModelScope configuration.json: \(task)"))
        }
        return model
    }
}
