import BinaryIO
import FlaxFormat
import GGUFFormat
import ONNXFormat
import KerasFormat
import ModelIR
import PaddleFormat
import PyTorchFormat
import SafetensorsFormat
import TensorFlowFormat

/// Every format ModelPort reads and writes, in one list: detection, `--to`, the help texts and the README's table
/// all come from here. A new format is a new target and one line in each list.
public enum FormatRegistry {
    /// The readers, in the order a folder is offered to them: Hugging Face weights first (safetensors, then
    /// PyTorch), then the formats with layouts of their own.
    public static let readers: [any ModelReader] = [
        SafetensorsSource(), PyTorchSource(), KerasSource(), FlaxSource(), TensorFlowSource(), PaddleSource(), GGUFSource(), ONNXSource(),
    ]

    /// The outputs with their default options; the first is the default for a destination whose name implies none.
    public static let outputs: [any ModelOutput] = [
        HuggingFaceOutput(), SafetensorsOutput(), PyTorchOutput(), GGUFOutput(), PaddleOutput(), ONNXOutput(),
    ]

    /// The output `--to ID` names, with its default options.
    public static func output(id: String) -> (any ModelOutput)? {
        outputs.first { $0.description.id == id.lowercased() }
    }

    /// The output a destination's name implies (`.safetensors`, `.gguf`, `.bin`…), else a Hugging Face folder.
    public static func output(impliedBy destination: String) -> any ModelOutput {
        outputs.first { $0.description.destinationSuffixes.contains(where: destination.hasSuffix) } ?? outputs[0]
    }

    /// The formats read and written, one row each (for help texts and documentation).
    public static var formats: [FormatDescription] {
        var rows: [FormatDescription] = []
        for description in outputs.map({ $0.description }) + readers.map({ $0.description }) where !rows.contains(where: { $0.id == description.id }) {
            rows.append(description)
        }
        return rows
    }

    /// The formats as a Markdown table (README.md and the documentation include it; a test keeps them equal).
    public static var markdownTable: String {
        var lines = ["| format | `--to` | reads | writes |", "|---|---|---|---|"]
        for format in formats {
            let to = format.writes == nil ? "" : "`\(format.id)`"
            lines.append("| \(format.name) | \(to) | \(format.reads ?? "—") | \(format.writes ?? "—") |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What a path holds: the reader for it, the path it reads, and the folder whose Hugging Face conventions apply
    /// (when the path is such a folder).
    public struct Detection: Sendable {
        public var reader: any ModelReader
        /// The file (or folder, for layouts) the reader reads.
        public var path: String
        /// The model folder the weights came from, when a folder was given and the reader reads one file in it.
        public var folder: String?
        /// Other weights in the same folder that were not read (the CLI says so).
        public var alternatives: [String]
    }

    /// Recognizes what `path` holds, from its bytes and structure (a name decides only for formats without a
    /// signature). An unrecognized input is an error that lists what was tried.
    public static func detect(_ path: String) throws -> Detection {
        if isDirectory(path) { return try detectFolder(path) }
        var file: MappedFile?
        if fileExists(path) {
            do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        }
        let probe = FileProbe(path: path, file: file)
        var best: (reader: any ModelReader, match: FormatMatch)?
        for reader in readers {
            guard let match = reader.match(probe) else { continue }
            if best == nil || match > best!.match { best = (reader, match) }
        }
        guard let best else {
            guard file != nil else { throw ModelError(kind: .notFound, file: path, "no such file or folder") }
            throw ModelError(kind: .unsupported, file: path, """
                unrecognized format (tried \(readers.map(\.description.name).joined(separator: ", ")))
                """)
        }
        return Detection(reader: best.reader, path: path, folder: nil, alternatives: [])
    }

    static func detectFolder(_ path: String) throws -> Detection {
        let names = try HuggingFaceFolder.list(path)
        var found: Detection?
        for reader in readers {
            guard let claim = try reader.claim(folder: path, names: names) else { continue }
            switch claim {
            case .file(let name):
                if found == nil {
                    found = Detection(reader: reader, path: path + "/" + name, folder: path, alternatives: [])
                } else if found?.folder != nil {
                    found?.alternatives.append(name)
                }
            case .layout:
                if found == nil { found = Detection(reader: reader, path: path, folder: nil, alternatives: []) }
            }
        }
        guard let found else {
            throw ModelError(kind: .notFound, file: path, """
                no model found in folder (looked for \(readers.compactMap(\.description.reads).joined(separator: "; ")))
                """)
        }
        return found
    }
}
