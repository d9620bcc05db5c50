import BinaryIO

/// Writing model folders: the weights, `config.json` and the auxiliary files, committed into place only when
/// complete (`AtomicDirectory`).
public enum ModelFolder {
    /// A model folder: the weights `writeWeights` puts in the temporary folder, then `config.json` and the
    /// auxiliary files; renamed into place when complete. Returns the names of the files in it.
    public static func write(
        _ model: Model, to folder: String, options: OutputOptions, config: Bool = true,
        auxiliaryFiles: (AuxiliaryFile) -> Bool = { _ in true },
        writeWeights: (_ temporaryFolder: String, _ options: OutputOptions) throws -> [String]
    ) throws -> [String] {
        let output = try AtomicDirectory(destination: folder, existing: options.existing)
        var inner = options
        inner.existing = .refuse
        var written = try writeWeights(output.temporaryPath, inner)
        if config {
            let configFile = try AtomicFile(destination: output.path(for: "config.json"))
            try configFile.write(Array(model.config.huggingFaceText(weightsDType: model.mainFloatType).utf8))
            try configFile.commit()
            written.append("config.json")
        }
        for file in model.auxiliaryFiles where !written.contains(file.name) && auxiliaryFiles(file) {
            try write(file, into: output.path(for: file.name))
            written.append(file.name)
        }
        try output.commit()
        return written
    }

    /// Writes an auxiliary file (its bytes, or a copy of its source) at `path`; folders are created as needed.
    public static func write(_ file: AuxiliaryFile, into path: String) throws {
        guard let contents = file.contents else { return try copyFile(from: file.sourcePath, to: path) }
        let out = try AtomicFile(destination: path)
        try out.write(contents)
        try out.commit()
    }

    /// Copies a file (mapped, written in one go); AtomicFile creates the destination's folders.
    static func copyFile(from source: String, to destination: String) throws {
        let input: MappedFile
        do { input = try MappedFile(path: source) } catch { throw ModelError(error, file: source) }
        let output = try AtomicFile(destination: destination)
        try input.withBytes { try output.write($0) }
        try output.commit()
    }
}
