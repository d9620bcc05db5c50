import Foundation
import BinaryIO
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing

/// tf_model.h5 and flax_model.msgpack folders (written by transformers 4.46.3) through every command.
@Suite struct KerasFlaxCommandTests {
    static let sources = ["bert-tf", "bert-flax", "bert-flax-sharded", "albert-tf", "albert-flax", "bert-cls-tf", "bert-cls-flax",
                          "bert-mlm-tf", "bert-qa-tf"]

    static func reference(_ source: String) -> String {
        source.replacingOccurrences(of: "-flax-sharded", with: "").replacingOccurrences(of: "-flax", with: "")
            .replacingOccurrences(of: "-tf", with: "")
    }

    /// Converting to a Hugging Face folder gives the PyTorch weights the source was made from, byte for byte.
    @Test(arguments: sources)
    func convertsToTheExactPyTorchWeights(source: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let out = folder.file("hf")
        let result = run("convert", Samples.path("keras-flax/" + source), out, "--no-quality")
        #expect(result.status == 0, "\(result.err)")
        let (written, _) = try SafetensorsReader.read(path: out + "/model.safetensors")
        let (expected, _) = try SafetensorsReader.read(path: Samples.path("keras-flax/reference/\(Self.reference(source)).safetensors"))
        #expect(Set(written.map(\.name)) == Set(expected.map(\.name)))
        for wanted in expected {
            let tensor = try #require(written.first { $0.name == wanted.name })
            #expect(tensor.info == wanted.info)
            #expect(try tensor.withBytes { Array($0) } == (try wanted.withBytes { Array($0) }), "\(wanted.name)")
        }
        #expect(fileExists(out + "/config.json"))
        if source.hasPrefix("bert") { #expect(fileExists(out + "/vocab.txt")) }
    }

    @Test(arguments: ["bert-tf", "bert-flax"])
    func inspectsNamesTheFormat(source: String) {
        let result = run("inspect", Samples.path("keras-flax/" + source))
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains(source.hasSuffix("tf") ? "Hugging Face folder (Keras HDF5 weights)" : "Hugging Face folder (Flax msgpack)"))
        #expect(result.out.contains("tensors:      39 (39 f32)"))
    }

    @Test(arguments: [("safetensors", "x.safetensors"), ("pytorch", "pt"), ("gguf", "x.gguf"), ("paddle", "pd"), ("hf", "hf")])
    func convertsToEveryOutput(kind: String, name: String) {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for source in ["bert-tf", "bert-flax-sharded"] {
            let out = folder.file(source + "-" + name)
            let result = run("convert", Samples.path("keras-flax/" + source), out, "--to", kind)
            #expect(result.status == 0, "\(source) → \(kind): \(result.err)")
        }
    }

    @Test func quantizesAndKeepsLayersAndVerifies() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let gguf = folder.file("q8.gguf")
        let quantized = run("convert", Samples.path("keras-flax/bert-flax"), gguf, "--dtype", "q8_0")
        #expect(quantized.status == 0, "\(quantized.err)")
        let truncated = folder.file("one-layer")
        let kept = run("convert", Samples.path("keras-flax/bert-tf"), truncated, "--keep-layers", "1", "--dtype", "f16")
        #expect(kept.status == 0, "\(kept.err)")
        #expect(kept.out.contains("layer 1 not selected"))
        let lossless = folder.file("lossless")
        #expect(run("convert", Samples.path("keras-flax/bert-tf"), lossless, "--to", "pytorch").status == 0)
        let verified = run("verify", Samples.path("keras-flax/bert-tf"), lossless, Samples.path("keras-flax/bert-flax"), gguf,
                           "--text", "the model is fast")
        #expect(verified.status == 0, "\(verified.err)")
    }

    @Test func aFolderWithSeveralWeightFilesReadsSafetensorsFirstAndWeightsChooses() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for file in ["tf_model.h5", "config.json", "vocab.txt"] {
            try copyFile(Samples.path("keras-flax/bert-tf/" + file), to: folder.file(file))
        }
        try copyFile(Samples.path("keras-flax/bert-flax/flax_model.msgpack"), to: folder.file("flax_model.msgpack"))
        try copyFile(Samples.path("keras-flax/reference/bert.safetensors"), to: folder.file("model.safetensors"))
        let first = run("inspect", folder.path)
        #expect(first.status == 0, "\(first.err)")
        #expect(first.out.contains("format:       Hugging Face folder (safetensors)"))
        #expect(first.out.contains("read model.safetensors; the folder also holds tf_model.h5, flax_model.msgpack"))
        let chosen = run("inspect", folder.path, "--weights", "flax_model.msgpack")
        #expect(chosen.status == 0, "\(chosen.err)")
        #expect(chosen.out.contains("Hugging Face folder (Flax msgpack)"))
        #expect(chosen.out.contains("files:        vocab.txt"))
        let converted = run("convert", folder.path, folder.file("out"), "--weights", "tf_model.h5", "--no-quality")
        #expect(converted.status == 0, "\(converted.err)")
        let missing = run("inspect", folder.path, "--weights", "../x.h5")
        #expect(missing.status != 0)
        #expect(missing.err.contains("must be a file name in the folder"))
    }

    @Test(arguments: ["keras-flax/hostile/external-link.h5", "keras-flax/hostile/truncated.msgpack", "keras-flax/keras3/model.keras",
                      "keras-flax/keras3/model.weights.h5", "keras-flax/hostile/deep-nesting.msgpack",
                      "broken/fuzz/keras/libhdf5/vlen-heap-overflow.h5", "broken/fuzz/keras/libhdf5/vlen-segv.h5",
                      "broken/fuzz/keras/libhdf5/vlen-timeout.h5", "broken/hostile/keras/hard-link-cycle.h5",
                      "broken/hostile/keras/lzf-filter.h5", "broken/hostile/keras/huge-chunk.h5"])
    func hostileInputIsOneErrorLine(file: String) {
        let result = run("inspect", Samples.path(file))
        #expect(result.status == 1)
        #expect(result.err.split(separator: "\n").count == 1, "\(result.err)")
        #expect(result.out.isEmpty)
    }
}

extension KerasFlaxCommandTests {
    /// `convert --strict` refuses a Keras or Flax name no rule knows, naming it; without it the name is kept.
    @Test(arguments: [("broken/hostile/keras/unknown-name.h5", "model/norm/moving_mean:0"), ("broken/hostile/flax/unknown-key.msgpack", "norm/moving_mean")])
    func strictReadingRefusesAnUnknownName(file: String, name: String) {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let strict = run("convert", Samples.path(file), folder.file("strict.safetensors"), "--to", "safetensors", "--strict", "--no-quality")
        #expect(strict.status == 1)
        #expect(strict.err.contains(name) && strict.err.contains("naming rule (strict reading)"), "\(strict.err)")
        let lenient = run("convert", Samples.path(file), folder.file("lenient.safetensors"), "--to", "safetensors", "--no-quality")
        #expect(lenient.status == 0, "\(lenient.err)")
    }
}

func copyFile(_ from: String, to: String) throws {
    let bytes = try MappedFile(path: from).withBytes { Array($0) }
    let file = try AtomicFile(destination: to, existing: .replace)
    try bytes.withUnsafeBytes { try file.write($0) }
    try file.commit()
}
