import BinaryIO
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing

func bytes(_ path: String) throws -> [UInt8] { try MappedFile(path: path).withBytes { Array($0) } }

@Suite struct FormatDetectionTests {
    @Test func recognizesInputsFromTheirBytes() throws {
        let folderDetection = try FormatRegistry.detect(Samples.path("bert-tiny"))
        #expect(folderDetection.reader.description.id == "safetensors" && folderDetection.folder == Samples.path("bert-tiny"))
        #expect(try ModelLoader.format(of: Samples.path("bert-tiny/model.safetensors")).id == "safetensors")
        #expect(try ModelLoader.format(of: Samples.path("bert-tiny-sharded/model.safetensors.index.json")).id == "safetensors")
        #expect(try ModelLoader.load(Samples.path("bert-tiny")).sourceFormat == "Hugging Face folder (safetensors)")
        let folder = TemporaryFolder()
        defer { folder.remove() }
        // Misleading extensions: bytes win.
        for (name, content) in [("a.safetensors", Array("GGUF\u{3}\0\0\0".utf8)), ("b.json", [0x50, 0x4B, 0x03, 0x04, 0, 0])] {
            let file = try AtomicFile(destination: folder.file(name))
            try file.write(content)
            try file.commit()
        }
        #expect(try ModelLoader.format(of: folder.file("a.safetensors")).id == "gguf")
        #expect(try ModelLoader.format(of: folder.file("b.json")).id == "pytorch")
    }

    @Test func unknownInputNamesWhatWasTried() throws {
        #expect {
            try ModelLoader.load(Samples.path("vocab-tiny.txt"))
        } throws: { ($0 as? ModelError)?.kind == .unsupported && String(describing: $0).contains("unrecognized format (tried safetensors") }
        #expect {
            try ModelLoader.load(Samples.path("does-not-exist"))
        } throws: { String(describing: $0).hasSuffix("does-not-exist: no such file or folder") }
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let zip = try AtomicFile(destination: folder.file("pytorch_model.bin"))
        try zip.write([0x50, 0x4B, 0x03, 0x04, 0, 0])
        try zip.commit()
        #expect {
            try ModelLoader.load(folder.file("pytorch_model.bin"))
        } throws: { String(describing: $0).hasSuffix("pytorch_model.bin: not a readable zip archive: Not a zip archive") }
    }
}

@Suite struct HuggingFaceFolderTests {
    @Test func readsConfigWeightsAndTokenizerFiles() throws {
        let model = try ModelLoader.load(Samples.path("bert-tiny"))
        #expect(model.config.architecture == .bert && model.config.numHiddenLayers == 4)
        #expect(model.tensors.count == 71 && model.parameterCount == 40_096)
        #expect(model.auxiliaryFiles.map(\.name) == ["vocab.txt", "tokenizer.json", "tokenizer_config.json"])
        #expect(model.notes.isEmpty)
    }

    @Test func bareFileInfersTheConfig() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = try ModelLoader.load(Samples.path("bert-tiny"))
        _ = try SafetensorsOutput().write(try SafetensorsOutput().prepare(source), to: folder.file("weights.safetensors"), options: .init())
        let model = try ModelLoader.load(folder.file("weights.safetensors"))
        #expect(model.config.architecture == .bert)
        #expect(model.config.hiddenSize == 32 && model.config.numHiddenLayers == 4 && model.config.vocabSize == 84)
        #expect(!model.notes.isEmpty)
    }

    @Test func writesAFolderTransformersCanLoad() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("out"), options: .init())
        #expect(report.format.id == "hf")
        #expect(folder.contents("out") == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"])
        // Weights, config and vocabulary are byte-identical to what transformers wrote.
        for name in ["model.safetensors", "config.json", "vocab.txt", "tokenizer.json"] {
            #expect(try bytes(folder.file("out/" + name)) == (try Samples.bytes("bert-tiny/" + name)), "\(name)")
        }
        #expect(folder.contents() == ["out"])  // no temporary files left
    }

    @Test func convertsShardsToOneFileAndBack() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path("bert-tiny-sharded"), destination: folder.file("one"), options: .init())
        #expect(try bytes(folder.file("one/model.safetensors")) == (try Samples.bytes("bert-tiny/model.safetensors")))
        _ = try Converter.convert(source: folder.file("one"), destination: folder.file("many"),
                                  options: ConversionOptions(output: HuggingFaceOutput(maxShardBytes: 30_000)))
        let names = folder.contents("many")
        #expect(names.contains("model.safetensors.index.json"))
        #expect(names.filter { $0.hasPrefix("model-") }.count == 6)
        let back = try ModelLoader.load(folder.file("many"))
        let original = try ModelLoader.load(Samples.path("bert-tiny"))
        for tensor in original.tensors {
            #expect(try back[tensor.name]?.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }))
        }
    }

    @Test func castsAndTruncatesEndToEnd() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("rbt2.safetensors"),
                                           options: ConversionOptions(transforms: [.cast(.bf16), .selectLayers(.first(2))]))
        #expect(report.tensorCount == 39 && report.dropped.count == 32)
        let (tensors, metadata) = try SafetensorsReader.read(path: folder.file("rbt2.safetensors"))
        #expect(metadata["format"] == "pt")
        #expect(tensors.allSatisfy { $0.dtype == .bf16 })
        #expect(!tensors.contains { $0.name.hasPrefix("encoder.layer.2.") })

        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("hf"),
                                  options: ConversionOptions(transforms: [.cast(.f16), .selectLayers(.list([0, 3]))]))
        let config = try ModelConfig(contentsOf: folder.file("hf/config.json"))
        #expect(config.numHiddenLayers == 2 && config["dtype"] == .string("float16"))
    }

    @Test func neverOverwritesWithoutForceAndNeverLeavesHalfOutputs() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let destination = folder.file("out.safetensors")
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: destination, options: .init())
        let before = try bytes(destination)
        #expect {
            try Converter.convert(source: Samples.path("bert-tiny"), destination: destination, options: ConversionOptions(transforms: [.cast(.f16)]))
        } throws: { ($0 as? ModelError)?.kind == .outputExists }
        // A conversion that fails half-way (a bad layer list is caught early; a missing source too) leaves the old file.
        #expect(throws: ModelError.self) {
            try Converter.convert(source: Samples.path("broken/safetensors/truncated.safetensors"), destination: destination,
                                  options: ConversionOptions(writing: OutputOptions(existing: .replace)))
        }
        #expect(try bytes(destination) == before)
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: destination,
                                  options: ConversionOptions(transforms: [.cast(.f16)], writing: OutputOptions(existing: .replace)))
        #expect(try bytes(destination).count < before.count)
        #expect(folder.contents() == ["out.safetensors"])
    }

    @Test func aTensorThatFailsMidWriteLeavesNoFolder() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var model = try ModelLoader.load(Samples.path("bert-tiny"))
        model.tensors.append(Tensor(name: "zz.fails", dtype: .f32, shape: [2], data: .producer { throw ModelError("disk vanished") }))
        #expect(throws: ModelError.self) {
            try HuggingFaceOutput(maxShardBytes: 50_000).write(try HuggingFaceOutput(maxShardBytes: 50_000).prepare(model), to: folder.file("out"), options: .init())
        }
        #expect(folder.contents().isEmpty)
    }
}
