import BinaryIO
import ModelIR
import Transforms

/// GGUF as a ModelPort source: llama.cpp's BERT layout back to Hugging Face names, other architectures' shortened
/// names expanded, the config from the stored `config.json` or the `bert.*` keys, the vocabulary back to `vocab.txt`.
public struct GGUFSource: ModelReader {
    public init() {}

    public var description: FormatDescription {
        FormatDescription(id: "gguf", name: "GGUF",
                          reads: "`*.gguf` (v2, v3; F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)",
                          writes: "`*.gguf` that llama.cpp runs (BERT family), F32 / F16 / BF16 / Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K and llama-quantize's Q4_K_M / Q5_K_M mixes",
                          destinationSuffixes: [".gguf"])
    }

    public func match(_ probe: FileProbe) -> FormatMatch? {
        probe.startsWith(Array("GGUF".utf8)) ? .signature : nil
    }

    public func claim(folder: String, names: [String]) throws -> FolderClaim? {
        let files = names.filter { $0.hasSuffix(".gguf") }
        guard let file = files.first else { return nil }
        guard files.count == 1 else {
            throw ModelError(kind: .ambiguousInput, file: folder, "several GGUF files (\(files.joined(separator: ", "))); name one")
        }
        return .file(file)
    }

    public func read(_ path: String, options: ReadOptions) throws -> Model { try GGUFConversion.load(path) }
}

/// A GGUF file out, for llama.cpp: the BERT family in llama.cpp's BERT layout (llama.cpp loads no other tensors:
/// heads it cannot run are dropped, with a note), other architectures under shortened Hugging Face names.
public struct GGUFOutput: ModelOutput {
    /// The types of the tensors llama.cpp quantizes (norms, biases and position tables stay F32).
    public var types: GGUFTypes
    /// Per-tensor rules, matched against the GGUF names, ahead of `types`.
    public var rules: [TypeRule]
    /// Keep the pooler and pre-training heads of architectures llama.cpp does not run (the BERT layout has no place
    /// for them).
    public var keepHeads: Bool

    public init(types: GGUFTypes = .uniform(.f32), rules: [TypeRule] = [], keepHeads: Bool = false) {
        self.types = types
        self.rules = rules
        self.keepHeads = keepHeads
    }

    public var description: FormatDescription { GGUFSource().description }

    public func prepare(_ model: Model) throws -> PreparedOutput {
        let export = try GGUFConversion.export(model, types: types, rules: rules, keepHeads: keepHeads)
        var stored = model
        stored.tensors = export.tensors
        stored.dropped += export.dropped
        stored.notes += export.notes
        return PreparedOutput(model: stored, correspondence: Array(zip(export.sources, export.tensors)), extra: export)
    }

    public func write(_ prepared: PreparedOutput, to destination: String, options: OutputOptions) throws -> [String] {
        guard let export = prepared.extra as? GGUFExport else {
            throw ModelError(kind: .invalidRequest, file: destination, "a GGUF output writes what its own prepare() returned")
        }
        try GGUFWriter.write(prepared.model.tensors, metadata: export.metadata, to: destination, options: options)
        return [splitPath(destination).name]
    }
}
