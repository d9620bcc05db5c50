import BinaryIO
import ModelIR

/// Keras HDF5 weights as a ModelPort format: transformers' `tf_model.h5` alone or in a Hugging Face folder (whose
/// `config.json` and tokenizer files the pipeline adds). Keras 3 `.weights.h5` files and `.keras` archives are
/// recognized so that reading them gives an error naming their layout.
public struct KerasSource: ModelReader {
    public init() {}

    public var description: FormatDescription {
        FormatDescription(id: "keras", name: "Keras",
                          reads: "`tf_model.h5` and other Keras 2 `save_weights` HDF5 files (transformers' TF classes); Keras 3 files are named and refused",
                          writes: nil)
    }

    public var usesHuggingFaceConfig: Bool { true }

    public func match(_ probe: FileProbe) -> FormatMatch? {
        guard let file = probe.file else { return nil }
        // A .keras archive is a zip (which PyTorch claims by signature alone): the name settles it.
        if probe.hasSuffix(".keras"), probe.startsWith([0x50, 0x4B, 0x03, 0x04]) { return .signatureAndName }
        return file.withBytes { KerasWeights.recognizes($0) } ? .signature : nil
    }

    public func claim(folder: String, names: [String]) throws -> FolderClaim? {
        names.contains("tf_model.h5") ? .file("tf_model.h5") : nil
    }

    public func read(_ path: String, options: ReadOptions) throws -> Model {
        if path.hasSuffix(".keras") {
            throw ModelError(kind: .unsupported, file: path, """
                a Keras 3 archive (config.json + model.weights.h5, variables saved by position without names); \
                ModelPort reads Keras 2 HDF5 weights such as Hugging Face's tf_model.h5 (tf-keras save_weights)
                """)
        }
        return try KerasWeights.read(path: path, strict: options.strict)
    }
}
