import BinaryIO
import Foundation
import ModelIR
import ModelPort
@testable import ONNXFormat
import SwiftProtobuf
import TestSupport
import Testing

/// ONNX export (graph structure, initializers bit-exact to the source) and ONNX in, including hostile files.
@Suite struct ONNXExportTests {
    static func load(_ sample: String) throws -> Model { try ModelLoader.load(Samples.path(sample)) }

    /// A graph checked before it takes its name is written under a staging name; external data would keep that name,
    /// so the combination is refused, naming the destination, and nothing is left behind.
    @Test func aRequiredMinimumWithExternalDataIsRefused() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let options = ConversionOptions(output: ONNXOutput(export: ONNXExportOptions(externalData: .always)),
                                        quality: .require(minimumCosine: 0.9))
        let error = #expect(throws: ModelError.self) {
            try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("m.onnx"), options: options)
        }
        #expect(error?.kind == .unsupported && error?.file == folder.file("m.onnx"))
        #expect(folder.contents().isEmpty)
    }

    /// An int8 graph reads back as f32 weights, but `verify` judges it as the int8 model it is (cosine ≥ 0.999, not
    /// fp32's 1e-5), and an fp32 graph stays under fp32's bound.
    @Test func verifyJudgesAnInt8GraphByInt8Tolerances() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for (precision, name) in [(ONNXPrecision.int8, "q.onnx"), (.fp32, "f.onnx")] {
            let options = ConversionOptions(output: ONNXOutput(export: ONNXExportOptions(precision: precision)), quality: .off)
            _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file(name), options: options)
        }
        #expect(try ModelLoader.load(folder.file("q.onnx")).expandedFrom == .i8)
        #expect(try ModelLoader.load(folder.file("f.onnx")).expandedFrom == nil)
        let int8 = try Verification.verify(reference: Samples.path("bert-tiny"), candidate: folder.file("q.onnx"))
        #expect(int8.tolerance.minCosine == 0.999 && int8.tolerance.maxError == nil)
        #expect(int8.passed)
        let fp32 = try Verification.verify(reference: Samples.path("bert-tiny"), candidate: folder.file("f.onnx"))
        #expect(fp32.tolerance.maxError == 1e-5 && fp32.passed)
    }

    @Test func bertGraphHasOptimumInputsOutputsAndOneLayerNormPerSublayer() throws {
        let model = try Self.load("bert-tiny")
        let plan = try ONNXExporter.plan(model)
        #expect(plan.inputNames == ["input_ids", "attention_mask", "token_type_ids"])
        #expect(plan.outputNames == ["last_hidden_state", "pooler_output"])
        let layers = try #require(model.config.numHiddenLayers)
        let types = plan.nodeTypes
        #expect(types.filter { $0 == "LayerNormalization" }.count == 1 + 2 * layers)
        #expect(types.filter { $0 == "Softmax" }.count == layers)
        #expect(types.filter { $0 == "Erf" }.count == layers)  // exact GELU, the pattern ORT fuses
        #expect(types.filter { $0 == "MatMul" }.count == layers * 8 + 1)  // Q K V O up down + 2 attention products; pooler
        #expect(!types.contains("Attention"), "standard operators only")
    }

    @Test func robertaPositionsStartAfterThePaddingId() throws {
        let plan = try ONNXExporter.plan(try Self.load("pytorch/roberta-tiny-zip"))
        // cumsum(ids ≠ pad): the padding test is in the graph, and the running sum is inclusive.
        #expect(plan.nodeTypes.contains("Equal") && plan.nodeTypes.contains("Not"))
        let cumsum = try #require(plan.graph.node.first { $0.opType == "CumSum" })
        #expect(!cumsum.attribute.contains { $0.name == "exclusive" && $0.i == 1 })
    }

    /// The additive mask is Unsqueeze(axes 1) → Unsqueeze(axes 2) → Cast → Sub(1, ·) → Mul(·, float32.min), the form
    /// onnxruntime's offline BERT optimizer follows to fuse Attention (one Unsqueeze of [1, 2] is not matched).
    @Test func maskIsTwoUnsqueezesThenCastSubMul() throws {
        let plan = try ONNXExporter.plan(try Self.load("bert-tiny"))
        let producer = Dictionary(plan.graph.node.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        let constants = Dictionary(plan.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        func axes(_ node: Onnx_NodeProto?) throws -> [Int64] {
            let n = try #require(node)
            let t = try #require(constants[n.input[1]])
            return try t.data.withBytes { raw in (0..<raw.count / 8).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) } }
        }
        let softmax = try #require(plan.graph.node.first { $0.opType == "Softmax" })
        let add = try #require(producer[softmax.input[0]])
        let mul = try #require(producer[add.input[1]])
        #expect(mul.opType == "Mul")
        let sub = try #require(producer[mul.input[0]])
        #expect(sub.opType == "Sub")
        let cast = try #require(producer[sub.input[1]])
        #expect(cast.opType == "Cast")
        let second = producer[cast.input[0]], first = second.flatMap { producer[$0.input[0]] }
        #expect(second?.opType == "Unsqueeze" && first?.opType == "Unsqueeze" && first?.input[0] == "attention_mask")
        #expect(try axes(second) == [2])
        #expect(try axes(first) == [1])
    }

    /// The patterns ORT's fusions walk: a Linear is Add(MatMul, bias) with the product at input 0 (AttentionFusion and
    /// BiasSkipLayerNormFusion follow input 0), every layer's LayerNorm takes Add(sublayer, residual), and Softmax's
    /// axis is written 3.
    @Test func graphHasTheInputOrdersORTFusionsMatch() throws {
        let model = try Self.load("bert-tiny")
        let plan = try ONNXExporter.plan(model)
        let layers = try #require(model.config.numHiddenLayers)
        let producer = Dictionary(plan.graph.node.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        let biases = Set(plan.initializers.map(\.name).filter { $0.hasSuffix(".bias") && !$0.contains("LayerNorm") })
        let biasAdds = plan.graph.node.filter { $0.opType == "Add" && $0.input.contains { biases.contains($0) } }
        #expect(biasAdds.count == biases.count)
        for add in biasAdds {
            #expect(biases.contains(add.input[1]), "\(add.name): bias second")
            #expect(producer[add.input[0]]?.opType == "MatMul", "\(add.name): product first")
        }
        let layerNorms = plan.graph.node.filter { $0.opType == "LayerNormalization" && !$0.name.contains("embeddings") }
        #expect(layerNorms.count == 2 * layers)
        for ln in layerNorms {
            let residual = try #require(producer[ln.input[0]])
            #expect(residual.opType == "Add", "\(ln.name) takes a residual Add")
            #expect(producer[residual.input[0]].map { biasAdds.map(\.name).contains($0.name) } == true, "\(ln.name): sublayer output first")
            #expect(producer[residual.input[1]]?.opType == "LayerNormalization", "\(ln.name): the residual is the previous LayerNorm")
        }
        for softmax in plan.graph.node where softmax.opType == "Softmax" {
            #expect(softmax.attribute.contains { $0.name == "axis" && $0.i == 3 })
        }
    }

    @Test func albertStoresItsSharedLayerOnceAndAppliesItPerLayer() throws {
        let model = try Self.load("pytorch/albert-tiny-zip")
        let plan = try ONNXExporter.plan(model)
        let layers = try #require(model.config.numHiddenLayers)
        #expect(layers > 1)
        #expect(plan.nodeTypes.filter { $0 == "Softmax" }.count == layers)
        let names = plan.initializers.map(\.name)
        #expect(Set(names).count == names.count, "every initializer stored once")
        #expect(names.contains("encoder.embedding_hidden_mapping_in.weight"))
    }

    @Test func cocolmComputesItsRelativeBiasInTheGraph() throws {
        let plan = try ONNXExporter.plan(try Self.load("cocolm-tiny"))
        #expect(plan.inputNames == ["input_ids", "attention_mask"])
        #expect(plan.nodeTypes.contains("Log") && plan.nodeTypes.contains("Sign"))
        #expect(plan.initializers.contains { $0.name.hasSuffix("relative_attention_bias.weight") })
    }

    @Test func perceiverIsRefusedWithItsName() throws {
        #expect {
            _ = try ONNXExporter.plan(try Self.load("perceiver-tiny"))
        } throws: { ($0 as? ONNXError)?.kind == .cannotExport && "\($0)".contains("perceiver") }
    }

    @Test(arguments: ["bert-tiny", "tensorflow/bert-tiny-tf1", "paddle/rbt-tiny", "pytorch/roberta-tiny-zip", "pytorch/albert-tiny-zip",
                      "heads/bert-squad-tf1", "cocolm-tiny"])
    func writtenThenReadInitializersAreBitExact(sample: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = try Self.load(sample)
        try ONNXWriter.write(try ONNXExporter.plan(source), to: folder.file("m.onnx"))
        let back = try ModelLoader.load(folder.file("m.onnx"))
        #expect(back.config.architecture == source.config.architecture)
        let read = Dictionary(back.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var compared = 0
        for t in source.tensors where t.dtype.isFloatingPoint {
            guard let b = read[t.name] else { continue }  // not in the graph: tensors of other heads, a tied decoder (the word-embedding initializer)
            #expect(b.shape == t.shape, "\(t.name)")
            let same = try t.withBytes { x in try b.withBytes { y in x.elementsEqual(y) } }
            #expect(same, "\(t.name) differs after ONNX and back")
            compared += 1
        }
        #expect(compared >= back.tensors.count - 1 && compared > 10, "\(compared) of \(back.tensors.count)")
    }

    @Test func externalDataGoesBesideTheGraphAndReadsBack() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = try Self.load("bert-tiny")
        let files = try ONNXWriter.write(try ONNXExporter.plan(source), to: folder.file("model.onnx"), external: .always)
        #expect(files == ["model.onnx", "model.onnx_data"])
        let back = try ModelLoader.load(folder.file("model.onnx"))
        let word = try #require(back["embeddings.word_embeddings.weight"])
        let original = try #require(source["embeddings.word_embeddings.weight"])
        #expect(try word.withBytes { Array($0) } == original.withBytes { Array($0) })
    }

    @Test func int8WeightsAreWithinHalfAStepOfTheirChannel() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = try Self.load("bert-tiny")
        let plan = try ONNXExporter.plan(source, options: .init(precision: .int8, int8Activations: .perToken))
        #expect(plan.nodeTypes.contains("MatMulInteger") && !plan.usesMicrosoftDomain, "standard operators only")
        try ONNXWriter.write(plan, to: folder.file("q.onnx"))
        let back = try ModelLoader.load(folder.file("q.onnx"))
        for name in ["encoder.layer.1.intermediate.dense.weight", "encoder.layer.1.output.dense.weight", "embeddings.word_embeddings.weight"] {
            let original = try #require(source[name])
            let w = try Self.floats(original), q = try Self.floats(try #require(back[name]))
            #expect(try #require(back[name]).shape == original.shape)
            // Linear weights [out, in] and embedding rows alike: one scale per row.
            let row = original.shape[1]
            #expect(w.count == q.count && w.count % row == 0)
            for start in stride(from: 0, to: w.count, by: row) {
                let step = w[start..<(start + row)].map(abs).max()! / 127
                for i in start..<(start + row) { #expect(abs(w[i] - q[i]) <= step / 2 * 1.0001 + 1e-12, "\(name) [\(i)]") }
            }
        }
    }

    /// Activations are quantized per token to uint8 around 128 (MatMulInteger's a_zero_point, so ORT runs its u8·s8
    /// integer GEMM); Q, K and V share their input's quantization.
    @Test func int8ActivationsAreUInt8PerTokenAroundZeroPoint128() throws {
        let model = try Self.load("bert-tiny")
        let plan = try ONNXExporter.plan(model, options: .init(precision: .int8, int8Activations: .perToken))
        let producer = Dictionary(plan.graph.node.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        let constants = Dictionary(plan.initializers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let products = plan.graph.node.filter { $0.opType == "MatMulInteger" }
        let layers = try #require(model.config.numHiddenLayers)
        #expect(products.count == 6 * layers + 1)  // Q K V O up down per layer, the pooler
        #expect(Set(products.map { $0.input[0] }).count == 4 * layers + 1, "Q, K and V share one quantized input")
        for node in products {
            let zero = try #require(constants[node.input[2]])
            #expect(zero.type == .uint8 && zero.dims.isEmpty)
            #expect(try zero.data.withBytes { Array($0) } == [128])
            let cast = try #require(producer[node.input[0]])
            #expect(cast.opType == "Cast" && cast.attribute.contains { $0.name == "to" && $0.i == Int64(ONNXElementType.uint8.rawValue) })
            // Cast(Round(x / s) + 128), s = max(ReduceMax(|x|, last axis), ε) / 127: one scale per token.
            let add = try #require(producer[cast.input[0]]), round = try #require(producer[add.input[0]])
            let div = try #require(producer[round.input[0]])
            #expect(add.opType == "Add" && round.opType == "Round" && div.opType == "Div")
            let scale = try #require(producer[div.input[1]]), floor = try #require(producer[scale.input[0]])
            let reduceMax = try #require(producer[floor.input[0]])
            #expect(reduceMax.opType == "ReduceMax" && reduceMax.attribute.contains { $0.name == "axes" && $0.ints == [-1] })
            #expect(reduceMax.attribute.contains { $0.name == "keepdims" && $0.i == 1 })
            #expect(constants[node.input[1]]?.type == .int8)
        }
    }

    static func floats(_ t: Tensor) throws -> [Float] {
        try t.withBytes { b in (0..<(b.count / 4)).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
    }
}

/// ONNX files that lie: every one gives one clear error of its kind, never a crash or a huge allocation.
@Suite struct ONNXHostileInputTests {
    /// A one-initializer model, serialized by swift-protobuf.
    static func model(_ edit: (inout Onnx_TensorProto) -> Void) throws -> [UInt8] {
        var tensor = Onnx_TensorProto()
        tensor.name = "embeddings.word_embeddings.weight"
        tensor.dataType = ONNXElementType.float.rawValue
        tensor.dims = [2, 2]
        tensor.rawData = Data(count: 16)
        edit(&tensor)
        var graph = Onnx_GraphProto()
        graph.initializer = [tensor]
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.graph = graph
        return try model.serializedBytes()
    }

    static func error(_ bytes: [UInt8], in folder: TemporaryFolder, name: String = "m.onnx") -> ONNXError? {
        let path = folder.file(name)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do {
            _ = try ONNXReader.read(path: path)
            return nil
        } catch {
            return error as? ONNXError
        }
    }

    @Test func aWellFormedModelReads() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        #expect(Self.error(try Self.model { _ in }, in: folder) == nil)
    }

    @Test func aLengthPastTheEndIsMalformed() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let bytes = try Self.model { _ in }
        #expect(Self.error(Array(bytes.dropLast(3)), in: folder)?.kind == .malformed)
    }

    @Test func rawDataShorterThanItsDimsIsMalformed() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        #expect(Self.error(try Self.model { $0.dims = [4, 4] }, in: folder)?.kind == .malformed)
    }

    @Test func hugeDimsAreRefusedBeforeAnyAllocation() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let kind = Self.error(try Self.model { $0.dims = [1 << 40, 1 << 40, 1 << 40] }, in: folder)?.kind
        #expect(kind == .unsupported)
    }

    @Test(arguments: ["../secret.bin", "/etc/passwd", "sub/../../x", ""])
    func externalDataOutsideTheFolderIsRefused(location: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let bytes = try Self.model {
            $0.clearRawData()
            $0.dataLocation = .external
            var entry = Onnx_StringStringEntryProto()
            entry.key = "location"
            entry.value = location
            $0.externalData = [entry]
        }
        let kind = Self.error(bytes, in: folder)?.kind
        #expect(kind == .unsafeExternalData)
    }

    @Test func externalDataThroughASymlinkOutOfTheFolderIsRefused() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let outside = TemporaryFolder()
        defer { outside.remove() }
        _ = FileManager.default.createFile(atPath: outside.file("w.bin"), contents: Data(count: 16))
        try FileManager.default.createSymbolicLink(atPath: folder.file("w.bin"), withDestinationPath: outside.file("w.bin"))
        let bytes = try Self.model {
            $0.clearRawData()
            $0.dataLocation = .external
            var entry = Onnx_StringStringEntryProto()
            entry.key = "location"
            entry.value = "w.bin"
            $0.externalData = [entry]
        }
        #expect(Self.error(bytes, in: folder)?.kind == .unsafeExternalData)
    }

    @Test func deeplyNestedGraphsStopAtTheDepthLimit() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var inner = Onnx_GraphProto()
        for _ in 0..<200 {
            var attribute = Onnx_AttributeProto()
            attribute.name = "body"
            attribute.g = inner
            var node = Onnx_NodeProto()
            node.opType = "Loop"
            node.attribute = [attribute]
            inner = Onnx_GraphProto()
            inner.node = [node]
        }
        var model = Onnx_ModelProto()
        model.graph = inner
        let bytes: [UInt8] = try model.serializedBytes()
        #expect(Self.error(bytes, in: folder)?.kind == .malformed)
    }
}
