import BinaryIO
import ModelIR
import PaddleFormat

/// The kinds of input ModelPort recognizes, from their bytes and structure (the extension is a hint only).
public enum SourceFormat: String, Sendable {
    case safetensors = "safetensors"
    case safetensorsIndex = "sharded safetensors (index.json)"
    case huggingFaceFolder = "Hugging Face folder"
    case pytorchZip = "PyTorch zip checkpoint"
    case pytorchLegacy = "PyTorch legacy checkpoint"
    case tensorflowBundle = "TensorFlow checkpoint"
    case gguf = "GGUF"
    case paddle = "PaddlePaddle"

    /// Recognizes what `path` holds. An unrecognized input is an error that lists what was tried.
    public static func detect(_ path: String) throws -> SourceFormat {
        if isDirectory(path) { return try detectFolder(path) }
        if !fileExists(path) {
            if fileExists(path + ".index") { return .tensorflowBundle }
            throw ModelError(file: path, "no such file or folder")
        }
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        if let format = detectBytes(file) { return format }
        if [".pdparams", ".pdiparams", ".pdopt", ".pdmodel", "__model__", "__params__"].contains(where: path.hasSuffix) { return .paddle }
        if path.hasSuffix(".json"), (try? JSON.parse(contentsOf: path))?["base_code"]?["magic"]?.stringValue == "pir" { return .paddle }
        throw ModelError(file: path, """
            unrecognized format (tried safetensors header, safetensors index JSON, GGUF magic, zip, pickle, \
            TensorFlow index footer)
            """)
    }

    private static func detectBytes(_ file: MappedFile) -> SourceFormat? {
        file.withBytes { bytes -> SourceFormat? in
            let count = bytes.count
            if count >= 4, bytes[0] == 0x47, bytes[1] == 0x47, bytes[2] == 0x55, bytes[3] == 0x46 { return .gguf }
            if count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 0x03, bytes[3] == 0x04 { return .pytorchZip }
            if count >= 262, bytes[257] == 0x75, bytes[258] == 0x73, bytes[259] == 0x74, bytes[260] == 0x61, bytes[261] == 0x72 {
                return .pytorchLegacy  // a tar archive: torch ≤ 0.1, refused with its own message by the reader
            }
            if count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) {
                return file.path.hasSuffix(".pdparams") || file.path.hasSuffix(".pdopt") ? .paddle : .pytorchLegacy
            }
            if count >= 48 {
                let magic = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
                if magic == 0xDB47_7524_8B80_FB57 { return .tensorflowBundle }
            }
            if count >= 10 {
                let n = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
                if n >= 2, n <= UInt64(count - 8), bytes[8] == UInt8(ascii: "{") { return .safetensors }
            }
            let firstNonSpace = bytes.first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
            if firstNonSpace == UInt8(ascii: "{"), file.path.hasSuffix(".json"),
               (try? JSON.parse(bytes, path: file.path))?["weight_map"] != nil {
                return .safetensorsIndex
            }
            return nil
        }
    }

    private static func detectFolder(_ path: String) throws -> SourceFormat {
        let names = try listFolder(path)
        if names.contains(where: {
            $0.hasSuffix(".safetensors") || $0 == "model.safetensors.index.json" || $0 == "pytorch_model.bin.index.json"
                || ($0.hasPrefix("pytorch_model") && $0.hasSuffix(".bin"))
        }) {
            return .huggingFaceFolder
        }
        if names.contains(where: { $0.hasSuffix(".index") }) { return .tensorflowBundle }
        if names.contains(where: { $0.hasSuffix(".pdparams") || $0.hasSuffix(".pdiparams") || $0.hasSuffix(".pdmodel") || $0 == "__model__" })
            || isDirectory(path + "/assets/params") || fileExists(path + "/model/__model__") {
            return .paddle
        }
        if names.contains(where: { $0.hasSuffix(".gguf") }) { return .gguf }
        let files = names.filter { !isDirectory(path + "/" + $0) }
        if !files.isEmpty, files.allSatisfy({ LoDTensor.looksLikeRecord(path + "/" + $0) }) { return .paddle }
        throw ModelError(file: path, """
            no model found in folder (looked for *.safetensors, model.safetensors.index.json, pytorch_model*.bin, \
            *.index, *.pdparams, *.pdmodel, __model__, assets/params/, per-variable Paddle files, *.gguf)
            """)
    }
}

/// The names in a folder, sorted, or an error naming it.
func listFolder(_ path: String) throws -> [String] {
    guard let names = folderEntries(path) else {
        throw ModelError(file: path, "cannot list folder: \(String(cString: strerror(errno)))")
    }
    return names
}
