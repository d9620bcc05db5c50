import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelIR

/// ONNX as a ModelPort source: `*.onnx` (ModelPort's graphs, torch.onnx / optimum exports of BERT-family models) and
/// folders holding `model.onnx` (optimum's ORTModel layout); the config is the one ModelPort's export carries, else
/// `config.json` beside the graph.
public struct ONNXSource: ModelReader {
    public init() {}

    public var description: FormatDescription {
        FormatDescription(id: "onnx", name: "ONNX",
                          reads: "`*.onnx` and folders with `model.onnx` or transformers.js's `onnx/` (ModelPort's graphs, torch.onnx / optimum exports of BERT-family models; external data inside the folder)",
                          writes: "`*.onnx`, an optimum folder or transformers.js's `onnx/` layout: a graph written from the architecture (opset 17; BERT, StructBERT, RBT, RoBERTa, ALBERT, COCO-LM; masked-LM and pre-training heads), fp32, fp16 weights, int8 (MatMulInteger, per-tensor activations smoothed per channel; per-token on request)",
                          destinationSuffixes: [".onnx"])
    }

    /// A ModelProto has no magic: ModelPort's and torch's start with `ir_version` (field 1, varint 3…12) followed by
    /// another ModelProto field; with the `.onnx` name that is taken as a signature.
    public func match(_ probe: FileProbe) -> FormatMatch? {
        let signature = probe.file?.withBytes { b in
            b.count >= 3 && b[0] == 0x08 && (3...12).contains(b[1]) && [0x12, 0x1A, 0x22, 0x2A, 0x3A, 0x42, 0x72].contains(b[2])
        } ?? false
        if probe.hasSuffix(".onnx") { return signature ? .signatureAndName : .name }
        return signature ? .signature : nil
    }

    /// optimum's `model.onnx` at the top, else transformers.js's `onnx/` folder (its fp32, fp16 or q8 graph, in that order).
    public func claim(folder: String, names: [String]) throws -> FolderClaim? {
        if names.contains("model.onnx") { return .file("model.onnx") }
        guard names.contains("onnx"), isDirectory(folder + "/onnx") else { return nil }
        return ONNXPrecision.allCases.map { ONNXFolderLayout.transformersJS.graphPath(for: $0) }
            .first { fileExists(folder + "/" + $0) }.map { .file($0) }
    }

    public func read(_ path: String, options: ReadOptions) throws -> Model {
        let file = isDirectory(path) ? path + "/model.onnx" : path
        let contents = try ONNXReader.read(path: file)
        let folder = splitPath(file).folder
        var model = Model(tensors: contents.tensors, notes: contents.notes.map { Note(.info, $0) }, sourceFormat: "ONNX")
        if contents.hasQuantizedWeights { model.expandedFrom = .i8 }
        if let text = contents.configText, !fileExists(folder + "/config.json") {
            model.config = try ModelConfig(huggingFaceJSON: try JSON.parse(Array(text.utf8), path: file), file: file)
        } else {
            model = try HuggingFaceFolder.withConfig(model, from: folder + "/config.json")
        }
        model.auxiliaryFiles = HuggingFaceFolder.auxiliaryFiles(in: folder)
        return model
    }
}

/// An ONNX graph out: `DEST.onnx`, or a folder with `model.onnx` (transformers.js: `onnx/model….onnx`), `config.json`
/// and the tokenizer files.
public struct ONNXOutput: ModelOutput {
    public var export: ONNXExportOptions

    public init(export: ONNXExportOptions = .init()) { self.export = export }

    public var description: FormatDescription { ONNXSource().description }

    public func prepare(_ model: Model) throws -> PreparedOutput {
        let plan = try ONNXExporter.plan(try model.dequantizingBlocks(), options: export)
        // The IR is unchanged (the graph stores its own precision); the quality check reads the written graph back.
        var stored = model
        // Head tensors without the transform the graph needs (`--drop-heads` leaves none, and needs no note).
        let shown = HeadKind.detect(tensorNames: model.tensors.map(\.name))
        if [.maskedLM, .preTraining].contains(ONNXExporter.head(of: model)), shown == .maskedLM || shown == .preTraining,
           !plan.outputNames.contains("logits"), !plan.outputNames.contains("prediction_logits") {
            stored.notes.append(Note(.outputLimitation, "the graph has no masked-LM logits for the \(model.task.head.description): "
                + "the head tensors lack the transform dense layer"))
        }
        if export.layout == .transformersJS, !model.auxiliaryFiles.contains(where: { $0.name == "tokenizer.json" }) {
            // transformers.js builds its tokenizer from tokenizer.json and tokenizer_config.json alone
            // (`AutoTokenizer.from_pretrained` in its src/tokenizers.js).
            stored.notes.append(Note(.outputLimitation, "the source has no tokenizer.json, which transformers.js needs to tokenize "
                + "(it reads no vocab.txt): the folder runs on token ids until one is added"))
        }
        return PreparedOutput(model: stored, correspondence: [], extra: plan)
    }

    public func write(_ prepared: PreparedOutput, to destination: String, options: OutputOptions) throws -> [String] {
        guard let plan = prepared.extra as? ONNXPlan else {
            throw ModelError(kind: .invalidRequest, file: destination, "an ONNX output writes what its own prepare() returned")
        }
        // A `.onnx` name is one file; so is its staged copy (`.NAME.onnx.modelport-….staged`, `--min-cosine`).
        let name = splitPath(destination).name
        let staged = name.hasSuffix(".staged") && name.contains(".onnx.modelport-")
        if name.hasSuffix(".onnx") || staged {
            do {
                return try ONNXWriter.write(plan, to: destination, external: export.externalData, options: options, allowExternal: !staged)
            } catch var error as ModelError where staged {
                // Name the destination the user gave, not its staging name (`.NAME.onnx.modelport-….staged`).
                if let end = name.firstRange(of: ".modelport-") { error.file = splitPath(destination).folder + "/" + name[..<end.lowerBound].dropFirst() }
                throw error
            }
        }
        let graph = export.layout.graphPath(for: export.precision)
        return try ModelFolder.write(prepared.model, to: destination, options: options) { folder, inner in
            let files = try ONNXWriter.write(plan, to: folder + "/" + graph, external: export.externalData, options: inner)
            let subfolder = splitPath(graph).folder
            return subfolder.isEmpty || subfolder == "." ? files : files.map { subfolder + "/" + $0 }
        }
    }
}
