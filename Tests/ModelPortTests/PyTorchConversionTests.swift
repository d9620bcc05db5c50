import BinaryIO
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing

@Suite struct PyTorchConversionTests {
    static let folders: [(String, String)] = [
        ("pytorch/bert-tiny-zip", "bert-tiny/model.safetensors"),
        ("pytorch/bert-tiny-legacy", "bert-tiny/model.safetensors"),
        ("pytorch/bert-tiny-sharded", "bert-tiny/model.safetensors"),
        ("pytorch/roberta-tiny-legacy", "pytorch/roberta-tiny.reference.safetensors"),
        ("pytorch/albert-tiny-zip", "tensorflow/albert-tiny-tf1.reference.safetensors"),
    ]

    @Test(arguments: folders)
    func convertsFoldersToHuggingFaceBitExactly(sample: String, reference: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path(sample), destination: folder.file("hf"), options: .init())
        let (written, _) = try SafetensorsReader.read(path: folder.file("hf/model.safetensors"))
        let (expected, _) = try SafetensorsReader.read(path: Samples.path(reference))
        #expect(written.count == expected.count)
        for tensor in expected {
            let got = try #require(written.first { $0.name == tensor.name })
            #expect(got.info == tensor.info)
            #expect(try got.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }))
        }
        #expect(folder.contents("hf").contains("config.json") && folder.contents("hf").contains("vocab.txt"))
    }

    @Test func safetensorsToPyTorchAndBackIsLossless() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("pt"),
                                  options: ConversionOptions(output: PyTorchOutput()))
        #expect(folder.contents("pt") == ["config.json", "pytorch_model.bin", "tokenizer.json", "tokenizer_config.json", "vocab.txt"])
        _ = try Converter.convert(source: folder.file("pt"), destination: folder.file("back.safetensors"), options: .init())
        let back = try MappedFile(path: folder.file("back.safetensors")).withBytes { Array($0) }
        #expect(back == (try Samples.bytes("bert-tiny/model.safetensors")))
    }

    /// torch zip → `.bin` stores each whole record's CRC-32 as the source's (checked while the record is copied, not
    /// computed a second time): the output reads back (its CRCs checked) to the same tensors, and a source record
    /// whose CRC does not match fails the conversion with nothing written.
    @Test func recordsCopiedToBinKeepTheirCheckedCRC() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = Samples.path("pytorch/bert-tiny-zip/pytorch_model.bin")
        _ = try Converter.convert(source: source, destination: folder.file("copy.bin"), options: .init())
        let (original, copy) = (try ModelLoader.load(source), try ModelLoader.load(folder.file("copy.bin")))
        #expect(original.tensors.map(\.name) == copy.tensors.map(\.name))
        for (a, b) in zip(original.tensors, copy.tensors) {
            #expect(a.info == b.info)
            #expect(try a.withBytes { Array($0) } == (try b.withBytes { Array($0) }), "\(a.name)")
        }
        do {
            _ = try Converter.convert(source: Samples.path("broken/hostile/pytorch/crc-zero.bin"), destination: folder.file("bad.bin"),
                                      options: .init())
            Issue.record("a record with the wrong CRC-32 was converted")
        } catch {
            #expect(String(describing: error).contains("CRC-32 mismatch"), "\(error)")
        }
        #expect(folder.contents() == ["copy.bin"])
    }

    @Test func viewsDtypesAndTiesSurviveARoundTrip() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path("pytorch/views.bin"), destination: folder.file("v.bin"), options: .init())
        let model = try ModelLoader.load(folder.file("v.bin"))
        let (reference, _) = try SafetensorsReader.read(path: Samples.path("pytorch/views.reference.safetensors"))
        for tensor in reference {
            let got = try #require(model[tensor.name])
            #expect(got.info == tensor.info)
            #expect(try got.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }))
        }
    }
}
