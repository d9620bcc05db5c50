import BinaryIO
import Foundation
import ModelIR
import ModelPort
@testable import ONNXFormat
import TestSupport
import Testing

/// `ONNXInt8Activations.perTensor` (`--onnx-int8 fast`): every int8 Linear in the exact pattern ONNX Runtime's session
/// optimizer fuses into `DynamicQuantizeMatMul`, with the same per-channel int8 weights as the default form.
@Suite struct ONNXFastInt8Tests {
    static let fast = ONNXExportOptions(precision: .int8, int8Activations: .perTensor)

    /// DynamicQuantizeLinear(x) → MatMulInteger(x_q, W_q, x_zero) → Cast(float) → Mul(·, Mul(x_scale, W_scale)) → Add(·, b),
    /// each intermediate used once (onnxruntime/core/optimizer/matmul_integer_to_float.cc and
    /// dynamic_quantize_matmul_fusion.cc match nothing else), one DynamicQuantizeLinear per Linear.
    @Test func eachLinearIsThePatternORTFusesIntoDynamicQuantizeMatMul() throws {
        let model = try ModelLoader.load(Samples.path("bert-tiny"))
        let plan = try ONNXExporter.plan(model, options: Self.fast)
        let nodes = plan.graph.node
        let producer = Dictionary(nodes.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        var consumers: [String: [Onnx_NodeProto]] = [:]
        for n in nodes { for i in n.input { consumers[i, default: []].append(n) } }
        let constants = Dictionary(plan.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let layers = try #require(model.config.numHiddenLayers)
        let products = nodes.filter { $0.opType == "MatMulInteger" }
        #expect(products.count == 6 * layers + 1)  // Q K V O up down per layer, the pooler
        #expect(nodes.filter { $0.opType == "DynamicQuantizeLinear" }.count == products.count, "one per Linear: Q, K and V do not share")
        #expect(!plan.nodeTypes.contains("Round") && !plan.nodeTypes.contains("ReduceMax"), "no per-token subgraph")
        #expect(!plan.usesMicrosoftDomain, "standard operators; ORT fuses them itself")
        for node in products {
            let quantize = try #require(producer[node.input[0]])
            #expect(quantize.opType == "DynamicQuantizeLinear" && quantize.output.count == 3)
            #expect(node.input.count == 3 && node.input[2] == quantize.output[2], "a_zero_point is the DynamicQuantizeLinear's")
            #expect(quantize.output.allSatisfy { consumers[$0]?.count == 1 }, "three outputs, three uses")
            let weight = try #require(constants[node.input[1]])
            #expect(weight.type == .int8 && weight.dims.count == 2)
            let castUses = try #require(consumers[node.output[0]])
            let cast = try #require(castUses.first)
            #expect(castUses.count == 1 && cast.opType == "Cast")
            #expect(cast.attribute.contains { $0.name == "to" && $0.i == Int64(ONNXElementType.float.rawValue) })
            let mulUses = try #require(consumers[cast.output[0]])
            let mul = try #require(mulUses.first)
            #expect(mulUses.count == 1 && mul.opType == "Mul")
            let scales = try #require(producer[mul.input[1]])
            #expect(scales.opType == "Mul" && scales.input[0] == quantize.output[1], "A's scale first, then B's")
            #expect(consumers[scales.output[0]]?.count == 1)
            let scale = try #require(constants[scales.input[1]])
            #expect(scale.type == .float && scale.dims == [weight.dims[1]], "one scale per output channel")
            // The bias: Add's input 1, a 1-D initializer (ORT folds it into the fused node).
            if let add = consumers[mul.output[0]]?.first, add.opType == "Add" {
                #expect(constants[add.input[1]]?.dims == [weight.dims[1]])
            }
        }
    }

    /// The weights are the default int8 form's, read back through the ONNX reader (so `verify` works): within half a
    /// step of their channel, and `verify` judges the graph as int8 and passes.
    @Test func weightsReadBackWithinHalfAStepAndVerifyPasses() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = try ModelLoader.load(Samples.path("bert-tiny"))
        let options = ConversionOptions(output: ONNXOutput(export: Self.fast), quality: .off)
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("q.onnx"), options: options)
        let back = try ModelLoader.load(folder.file("q.onnx"))
        #expect(back.expandedFrom == .i8)
        for name in ["encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.dense.weight", "pooler.dense.weight"] {
            let original = try #require(source[name]), read = try #require(back[name])
            #expect(read.shape == original.shape)
            let w = try ONNXExportTests.floats(original), q = try ONNXExportTests.floats(read)
            let row = original.shape[1]
            #expect(w.count == q.count && w.count % row == 0)
            for start in stride(from: 0, to: w.count, by: row) {
                let step = w[start..<(start + row)].map(abs).max()! / 127
                for i in start..<(start + row) { #expect(abs(w[i] - q[i]) <= step / 2 * 1.0001 + 1e-12, "\(name) [\(i)]") }
            }
        }
        let result = try Verification.verify(reference: Samples.path("bert-tiny"), candidate: folder.file("q.onnx"))
        #expect(result.tolerance.minCosine == 0.999 && result.passed)
    }

    /// The default is the smoothed form (`ONNXSmoothInt8Tests`); the choice matters only for int8.
    @Test func smoothIsTheDefaultAndFP32IgnoresTheChoice() throws {
        let model = try ModelLoader.load(Samples.path("bert-tiny"))
        #expect(ONNXExportOptions().int8Activations == .smoothed)
        let plan = try ONNXExporter.plan(model, options: .init(precision: .int8))
        #expect(plan.nodeTypes.contains("DynamicQuantizeLinear") && plan.initializers.contains { $0.name.hasSuffix(".input_smooth") })
        #expect(!(try ONNXExporter.plan(model, options: .init(precision: .int8, int8Activations: .perToken))).nodeTypes.contains("DynamicQuantizeLinear"))
        let fp32 = try ONNXExporter.plan(model, options: .init(int8Activations: .perTensor))
        #expect(!fp32.nodeTypes.contains("DynamicQuantizeLinear") && !fp32.nodeTypes.contains("MatMulInteger"))
    }
}
