import BinaryIO
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing

@Suite struct PaddleConversionTests {
    @Test(arguments: ["paddle/bert-tiny-p2", "paddle/rbt-tiny"])
    func convertsPaddleNLPToHuggingFaceBitExactly(sample: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path(sample), destination: folder.file("hf"), options: .init())
        let (written, _) = try SafetensorsReader.read(path: folder.file("hf/model.safetensors"))
        let (reference, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        let kept = reference.filter { !$0.name.contains("encoder.layer.2.") && !$0.name.contains("encoder.layer.3.") }
        #expect(Set(written.map(\.name)) == Set(kept.map(\.name)))
        for tensor in kept {
            let got = try #require(written.first { $0.name == tensor.name })
            #expect(got.info == tensor.info)
            #expect(try got.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "\(tensor.name)")
        }
        let config = try ModelConfig(contentsOf: folder.file("hf/config.json"))
        #expect(config.architecture == .bert && config.numHiddenLayers == 2 && config.layerNormEps == 1e-12)
        #expect(folder.contents("hf").contains("vocab.txt"))
    }
}
