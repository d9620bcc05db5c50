import BinaryIO
import ModelIR
import PaddleFormat
import SafetensorsFormat
import TestSupport
import Testing

@Suite struct PaddleParamsTests {
    @Test(arguments: ["paddle/bert-tiny-p2/model_state.pdparams", "paddle/rbt-tiny/model_state.pdparams"])
    func readsPaddleSaveInProtocols2And4(path: String) throws {
        let contents = try PaddleParams.read(path: Samples.path(path))
        #expect(contents.tensors.count == 39)
        let linear = try #require(contents.tensors.first { $0.name.hasSuffix("encoder.layers.1.linear1.weight") })
        #expect(linear.dtype == .f32 && linear.shape == [32, 64])  // Paddle's [in, out]
        #expect(contents.notes.map(\.text).contains("ignored the StructuredToParameterName@@ table"))
    }

    @Test func largeArraysStayInTheMappedFile() throws {
        // Protocol 4 writes array payloads raw (BINBYTES): those of 4 KiB and more are not copied.
        let contents = try PaddleParams.read(path: Samples.path("paddle/rbt-tiny/model_state.pdparams"))
        let large = contents.tensors.filter { ($0.info.byteCount ?? 0) >= 4096 }
        #expect(!large.isEmpty && large.allSatisfy { $0.data.isMapped })
        #expect(contents.tensors.filter { ($0.info.byteCount ?? 0) < 4096 }.allSatisfy { !$0.data.isMapped })
        // Protocol 2 spells bytes as latin-1 text (_codecs.encode): decoded, so copied.
        let p2 = try PaddleParams.read(path: Samples.path("paddle/bert-tiny-p2/model_state.pdparams"))
        #expect(p2.tensors.allSatisfy { !$0.data.isMapped })
    }

    @Test(arguments: [("os-system", "global 'posix.system' is not allowed"), ("truncated", "truncated pickle")])
    func refusesHostileAndBrokenFiles(name: String, message: String) {
        let path = Samples.path("broken/paddle/\(name).pdparams")
        #expect {
            try PaddleParams.read(path: path)
        } throws: { String(describing: $0).hasPrefix(path) && String(describing: $0).contains(message) }
    }
}
