import BinaryIO
import Foundation
import ModelIR
import ModelPort
@testable import ONNXFormat
import TestSupport
import Testing

/// `ONNXAttention.onnxRuntime`: each layer's attention as ONNX Runtime's fused `MultiHeadAttention`, fed by one stacked
/// Q|K|V Linear whose initializers are bit-exact to the three source weights (and, in int8, to their blocks).
@Suite struct ONNXAttentionTests {
    static func load(_ sample: String) throws -> Model { try ModelLoader.load(Samples.path(sample)) }
    static let fused = ONNXExportOptions(attention: .onnxRuntime)

    static func bytes(_ data: TensorData) throws -> [UInt8] { try data.withBytes { Array($0) } }

    static func floats(_ bytes: [UInt8]) -> [Float] {
        stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }

    @Test func eachLayerIsOneMultiHeadAttentionWithTheMaskAsInt32() throws {
        let model = try Self.load("bert-tiny")
        let plan = try ONNXExporter.plan(model, options: Self.fused)
        let layers = try #require(model.config.numHiddenLayers), heads = try #require(model.config.numAttentionHeads)
        let attention = plan.graph.node.filter { $0.opType == "MultiHeadAttention" }
        #expect(attention.count == layers)
        #expect(plan.usesMicrosoftDomain)
        #expect(!plan.nodeTypes.contains("Softmax"), "the scores, mask and softmax are the kernel's")
        #expect(!plan.graph.node.contains { $0.name.hasPrefix("/mask/") && $0.opType == "Unsqueeze" }, "no additive mask is built")
        #expect(plan.metadata.contains { $0.key == "modelport.attention" && $0.value == "ort" })
        let producer = Dictionary(plan.graph.node.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        for node in attention {
            #expect(node.domain == "com.microsoft")
            #expect(node.attribute.contains { $0.name == "num_heads" && $0.i == Int64(heads) })
            // query, key, value from one Split of the stacked Linear; no bias input (the Linear added it); the mask.
            #expect(node.input.count == 5 && node.input[3].isEmpty)
            let split = try #require(producer[node.input[0]])
            #expect(split.opType == "Split" && split.output == Array(node.input[0..<3]))
            let cast = try #require(producer[node.input[4]])
            #expect(cast.opType == "Cast" && cast.input == ["attention_mask"])
            #expect(cast.attribute.contains { $0.name == "to" && $0.i == Int64(ONNXElementType.int32.rawValue) })
        }
    }

    /// fp32: the stacked MatMul weight `[hidden, 3·hidden]` is `[Wqᵀ | Wkᵀ | Wvᵀ]`, every value bit-exact, and the bias
    /// is the three biases in turn.
    @Test func stackedWeightIsTheThreeSourceWeightsBitExact() throws {
        let model = try Self.load("bert-tiny")
        let plan = try ONNXExporter.plan(model, options: Self.fused)
        let hidden = try #require(model.config.hiddenSize)
        let initializers = Dictionary(plan.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let prefix = "encoder.layer.1.attention.self."
        let stacked = try #require(initializers[prefix + "qkv.weight"])
        #expect(stacked.dims == [hidden, 3 * hidden] && stacked.type == .float)
        let got = Self.floats(try Self.bytes(stacked.data))
        for (part, role) in ["query", "key", "value"].enumerated() {
            let w = Self.floats(try #require(model[prefix + role + ".weight"]).withBytes { Array($0) })  // [out, in]
            for i in 0..<hidden {
                for o in 0..<hidden where got[i * 3 * hidden + part * hidden + o].bitPattern != w[o * hidden + i].bitPattern {
                    Issue.record("\(role) [\(o), \(i)] differs")
                    return
                }
            }
        }
        let bias = try Self.bytes(try #require(initializers[prefix + "qkv.bias"]).data)
        var expected: [UInt8] = []
        for role in ["query", "key", "value"] { expected += try #require(model[prefix + role + ".bias"]).withBytes { Array($0) } }
        #expect(bias == expected)
        #expect(!initializers.keys.contains(prefix + "query.weight"), "the separate weights are not stored too")
    }

    /// int8: one scale per output channel, so stacking the rows before quantizing gives exactly the separate Linears'
    /// int8 weights side by side (`[in, out]` rows joined) and their scales in turn.
    @Test func int8StackedChannelsAreTheSeparateChannels() throws {
        let model = try Self.load("bert-tiny")
        let fused = try ONNXExporter.plan(model, options: ONNXExportOptions(precision: .int8, attention: .onnxRuntime))
        let standard = try ONNXExporter.plan(model, options: ONNXExportOptions(precision: .int8))
        let f = Dictionary(fused.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let s = Dictionary(standard.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let hidden = try #require(model.config.hiddenSize)
        let prefix = "encoder.layer.0.attention.self."
        let parts = try ["query", "key", "value"].map { try Self.bytes(try #require(s[prefix + $0 + ".weight_quantized"]).data) }
        var expected: [UInt8] = []
        for row in 0..<hidden { for part in parts { expected += part[(row * hidden)..<((row + 1) * hidden)] } }
        let stacked = try #require(f[prefix + "qkv.weight_quantized"])
        #expect(stacked.dims == [hidden, 3 * hidden])
        #expect(try Self.bytes(stacked.data) == expected)
        var scales: [UInt8] = []
        for role in ["query", "key", "value"] { scales += try Self.bytes(try #require(s[prefix + role + ".weight_scale"]).data) }
        #expect(try Self.bytes(try #require(f[prefix + "qkv.weight_scale"]).data) == scales)
        let node = try #require(fused.graph.node.first { $0.input.contains(prefix + "qkv.weight_quantized") })
        #expect(node.opType == "MatMulInteger")
    }

    @Test func albertSharesItsStackedWeightAcrossLayers() throws {
        let model = try Self.load("pytorch/albert-tiny-zip")
        let plan = try ONNXExporter.plan(model, options: Self.fused)
        let layers = try #require(model.config.numHiddenLayers)
        #expect(plan.nodeTypes.filter { $0 == "MultiHeadAttention" }.count == layers)
        let names = plan.initializers.map(\.name)
        #expect(Set(names).count == names.count, "every initializer stored once")
        #expect(names.filter { $0.hasSuffix("attention.qkv.weight") }.count == 1)
    }

    /// COCO-LM adds a relative-position bias to the scores; it keeps the standard attention.
    @Test func cocolmKeepsTheStandardAttention() throws {
        let plan = try ONNXExporter.plan(try Self.load("cocolm-tiny"), options: Self.fused)
        #expect(!plan.nodeTypes.contains("MultiHeadAttention") && plan.nodeTypes.contains("Softmax"))
        #expect(!plan.metadata.contains { $0.key == "modelport.attention" })
    }

    @Test func theStandardGraphHasNoMicrosoftAttention() throws {
        let plan = try ONNXExporter.plan(try Self.load("bert-tiny"))
        #expect(!plan.nodeTypes.contains("MultiHeadAttention") && !plan.usesMicrosoftDomain)
    }
}

/// A graph written with the fused attention reads back with the query, key and value parameters, so `verify`,
/// `--min-cosine` and the quality report work on it.
@Suite struct ONNXAttentionReadBackTests {
    @Test(arguments: [ONNXPrecision.fp32, .int8])
    func stackedQKVReadsBackAsQueryKeyValue(precision: ONNXPrecision) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = try ModelLoader.load(Samples.path("bert-tiny"))
        try ONNXWriter.write(try ONNXExporter.plan(source, options: .init(precision: precision, attention: .onnxRuntime)), to: folder.file("m.onnx"))
        let back = try ModelLoader.load(folder.file("m.onnx"))
        #expect(!back.tensors.contains { $0.name.contains(".qkv.") })
        for role in ["query", "key", "value"] {
            for suffix in [".weight", ".bias"] {
                let name = "encoder.layer.1.attention.self." + role + suffix
                let original = try #require(source[name]), read = try #require(back[name])
                #expect(read.shape == original.shape, "\(name)")
                if precision == .fp32 {
                    #expect(try read.withBytes { Array($0) } == original.withBytes { Array($0) }, "\(name) bit-exact")
                }
            }
        }
    }

    @Test func minimumCosineWorksOnTheFusedGraph() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let options = ConversionOptions(output: ONNXOutput(export: ONNXExportOptions(precision: .int8, attention: .onnxRuntime)),
                                        quality: .require(minimumCosine: 0.99))
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("m.onnx"), options: options)
        #expect(folder.contents() == ["m.onnx"])
    }
}
