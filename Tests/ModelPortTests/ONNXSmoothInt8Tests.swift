import BinaryIO
import Foundation
import ModelIR
import ModelPort
@testable import ONNXFormat
import TestSupport
import Testing

/// `ONNXInt8Activations.smoothed` (`--onnx-int8 smooth`): the fused per-tensor form with SmoothQuant's migration in
/// every encoder layer (`Smoothing`).
@Suite struct ONNXSmoothInt8Tests {
    static let smooth = ONNXExportOptions(precision: .int8, int8Activations: .smoothed)

    struct Graph {
        let nodes: [Onnx_NodeProto]
        let producer: [String: Onnx_NodeProto]
        let consumers: [String: [Onnx_NodeProto]]
        let constants: [String: ONNXInitializer]

        init(_ plan: ONNXPlan) {
            nodes = plan.graph.node
            producer = Dictionary(nodes.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
            var consumers: [String: [Onnx_NodeProto]] = [:]
            for n in nodes { for i in n.input { consumers[i, default: []].append(n) } }
            self.consumers = consumers
            constants = Dictionary(plan.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        }

        /// The `.input_smooth` multipliers a MatMulInteger's input passes through (Mul → DynamicQuantizeLinear), if any.
        func multipliers(of product: Onnx_NodeProto) -> ONNXInitializer? {
            guard let quantize = producer[product.input[0]], quantize.opType == "DynamicQuantizeLinear",
                  let mul = producer[quantize.input[0]], mul.opType == "Mul" else { return nil }
            return mul.input.lazy.compactMap { self.constants[$0] }.first { $0.name.hasSuffix(".input_smooth") }
        }
    }

    static func floats(_ i: ONNXInitializer) throws -> [Float] {
        try i.data.withBytes { b in (0..<(b.count / 4)).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
    }

    /// Every layer Linear reads Mul(x, m) through its own DynamicQuantizeLinear, in the pattern ORT fuses (the fast
    /// form's); Q, K and V share one Mul, so four per layer; the pooler is not smoothed; no per-token subgraph.
    @Test func everyLayerLinearReadsOneSmoothingMulBeforeTheFusablePattern() throws {
        let model = try ModelLoader.load(Samples.path("bert-tiny"))
        let g = Graph(try ONNXExporter.plan(model, options: Self.smooth))
        let layers = try #require(model.config.numHiddenLayers)
        let products = g.nodes.filter { $0.opType == "MatMulInteger" }
        #expect(products.count == 6 * layers + 1)
        #expect(g.nodes.filter { $0.opType == "DynamicQuantizeLinear" }.count == products.count)
        #expect(!g.nodes.contains { $0.opType == "Round" || $0.opType == "ReduceMax" })
        let smoothed = products.filter { g.multipliers(of: $0) != nil }
        #expect(smoothed.count == 6 * layers, "every layer Linear, not the pooler")
        #expect(Set(smoothed.compactMap { g.multipliers(of: $0)?.name }).count == 4 * layers, "Q, K and V share one")
        for node in smoothed {
            let quantize = try #require(g.producer[node.input[0]])
            #expect(quantize.output.allSatisfy { g.consumers[$0]?.count == 1 }, "three outputs, three uses: ORT still fuses it")
            let m = try #require(g.multipliers(of: node)), weight = try #require(g.constants[node.input[1]])
            #expect(m.type == .float && m.dims == [weight.dims[0]], "one multiplier per input channel")
        }
    }

    /// Smoothing folds exactly: the stored int8 weight times its row scale, times the column multipliers the graph
    /// applies to the input, gives back the original weight within half a quantization step (of the smoothed row,
    /// brought back by the multiplier), so the graph computes the original fp32 function before rounding.
    @Test func storedWeightsTimesMultipliersGiveBackTheOriginalWithinRounding() throws {
        let model = try ModelLoader.load(Samples.path("bert-tiny"))
        let g = Graph(try ONNXExporter.plan(model, options: Self.smooth))
        var checked = 0, moved = 0
        for node in g.nodes where node.opType == "MatMulInteger" {
            guard let m = g.multipliers(of: node) else { continue }
            let q = try #require(g.constants[node.input[1]])
            let name = String(q.name.dropLast("_quantized".count))
            let scale = try #require(g.constants[name + "_scale"])
            let original = try ONNXExportTests.floats(try #require(model[name]))
            let (columns, rows) = (q.dims[0], q.dims[1])
            let s = try Self.floats(scale), mult = try Self.floats(m)
            let bytes = try q.data.withBytes { Array($0) }
            #expect(original.count == rows * columns && bytes.count == rows * columns)
            for r in 0..<rows {
                for c in 0..<columns {
                    let back = Float(Int8(bitPattern: bytes[c * rows + r])) * s[r] * mult[c]
                    let bound = s[r] / 2 * mult[c] * 1.0001 + 1e-12
                    #expect(abs(back - original[r * columns + c]) <= bound, "\(name) [\(r), \(c)]")
                }
            }
            moved += mult.filter { abs($0 - 1) > 1e-3 }.count
            checked += 1
        }
        #expect(checked == 6 * (try #require(model.config.numHiddenLayers)) && moved > 0, "every layer Linear checked, and smoothing changed something")
    }

    /// With α = ½ the smoothed activation range and the smoothed weight column range meet: `a / s = w · s = √(a·w)`;
    /// an outlier channel (range 100 beside 1) is divided by 10. Zero ranges or columns keep divisor 1.
    @Test func divisorsBalanceActivationAndWeightRanges() {
        let s = Smoothing.divisors(ranges: [1, 100, 0, 4], weights: [[1, 1, 1, 0.25], [0.5, -1, 1, 0]], columns: 4)
        #expect(s[0] == 1 && abs(s[1] - 10) < 1e-5 && s[2] == 1 && abs(s[3] - 4) < 1e-5)
        for (a, w, d) in [(Float(1), Float(1), s[0]), (100, 1, s[1]), (4, 0.25, s[3])] { #expect(abs(a / d - w * d) < 1e-4) }
        let ranges = Smoothing.normRanges(gamma: [1, 12, -2], beta: [0, 4, -1])
        #expect(ranges == [3, 40, 7])
        // y = W·x + b over LayerNorm(γ, β): centre b + W·β, half-width 3·‖W ⊙ γ‖.
        let intervals = Smoothing.linearIntervals(weight: [1, 0, 0, 2], bias: [0.5, 0], rows: 2, columns: 2, gamma: [3, 4], beta: [1, -1])
        #expect(intervals[0] == (low: -7.5, high: 10.5) && intervals[1] == (low: -26, high: 22))
        let relu = Smoothing.activationRanges([(low: -5, high: 2)], act: "relu")
        #expect(relu == [2])
    }

    /// Read back through the ONNX reader, the smoothed weights come back unsmoothed (within rounding), so `verify`
    /// judges the graph as int8 and passes; the ORT-attention form (Q, K, V stacked) reads back too.
    @Test(arguments: [ONNXAttention.standard, .onnxRuntime])
    func weightsReadBackUnsmoothedAndVerifyPasses(_ attention: ONNXAttention) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = try ModelLoader.load(Samples.path("bert-tiny"))
        var export = Self.smooth
        export.attention = attention
        let options = ConversionOptions(output: ONNXOutput(export: export), quality: .off)
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("q.onnx"), options: options)
        let back = try ModelLoader.load(folder.file("q.onnx"))
        #expect(back.expandedFrom == .i8)
        for name in ["encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.value.weight",
                     "encoder.layer.1.attention.output.dense.weight", "encoder.layer.1.output.dense.weight"] {
            let w = try ONNXExportTests.floats(try #require(source[name])), q = try ONNXExportTests.floats(try #require(back[name]))
            #expect(w.count == q.count)
            let dot = zip(w, q).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            let norms = w.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot() * q.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            #expect(dot / norms > 0.999, "\(name): cosine \(dot / norms)")
        }
        let result = try Verification.verify(reference: Samples.path("bert-tiny"), candidate: folder.file("q.onnx"))
        #expect(result.tolerance.minCosine == 0.999 && result.passed)
    }

    /// A NaN or an infinity in a Linear weight (smoothed or not) or in the embedding table cannot be stored as int8:
    /// every int8 form fails with an error naming the tensor, found by the quantizer's range pass, and writes nothing.
    @Test(arguments: [ONNXInt8Activations.smoothed, .perTensor, .perToken])
    func nonFiniteWeightsAreRefusedNamingTheTensor(_ activations: ONNXInt8Activations) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for (name, bad) in [("encoder.layer.1.intermediate.dense.weight", Float.nan), ("encoder.layer.0.attention.self.value.weight", -.infinity),
                            ("embeddings.word_embeddings.weight", .infinity)] {
            var model = try ModelLoader.load(Samples.path("bert-tiny"))
            let i = try #require(model.tensors.firstIndex { $0.name == name })
            var values = try ONNXExportTests.floats(model.tensors[i])
            values[values.count / 2 + 3] = bad
            model.tensors[i] = Tensor(name: name, dtype: .f32, shape: model.tensors[i].shape, data: .owned(Int8Weights.floatBuffer(values)))
            let plan = try ONNXExporter.plan(model, options: ONNXExportOptions(precision: .int8, int8Activations: activations))
            let path = folder.file("\(activations)-\(name).onnx")
            let error = #expect(throws: (any Error).self) { try ONNXWriter.write(plan, to: path) }
            let message = "\(error.map { String(describing: $0) } ?? "")"
            #expect(message.contains(name) && message.contains("NaN or Inf"), "\(message)")
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    /// Multipliers that do not match the weight's input channels are refused when the graph is read, naming the weight.
    @Test func mismatchedMultipliersAreRefused() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var plan = try ONNXExporter.plan(try ModelLoader.load(Samples.path("bert-tiny")), options: Self.smooth)
        let i = try #require(plan.initializers.firstIndex { $0.name == "encoder.layer.0.intermediate.dense.input_smooth" })
        plan.initializers[i] = ONNXInitializer(name: plan.initializers[i].name, type: .float, dims: [3],
                                               data: .owned(Int8Weights.floatBuffer([1, 1, 1])))
        try ONNXWriter.write(plan, to: folder.file("bad.onnx"))
        #expect {
            _ = try ModelLoader.load(folder.file("bad.onnx"))
        } throws: { "\($0)".contains("encoder.layer.0.intermediate.dense.weight") && "\($0)".contains("smoothing multipliers") }
    }

    /// ALBERT (shared layers behind a mapping Linear) and COCO-LM keep the plain per-tensor form.
    @Test func albertAndCOCOLMAreNotSmoothed() throws {
        for sample in ["pytorch/albert-tiny-zip", "cocolm-tiny"] {
            let plan = try ONNXExporter.plan(try ModelLoader.load(Samples.path(sample)), options: Self.smooth)
            #expect(!plan.initializers.contains { $0.name.hasSuffix(".input_smooth") }, "\(sample)")
            #expect(plan.nodeTypes.contains("DynamicQuantizeLinear"), "\(sample)")
        }
    }
}
