import BinaryIO
import ModelIR
import SafetensorsFormat
import TestSupport
import Testing
import Transforms

func bertTiny() throws -> Model {
    let (tensors, metadata) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
    return Model(tensors: tensors, config: try ModelConfig(contentsOf: Samples.path("bert-tiny/config.json")), metadata: metadata)
}

@Suite struct CastTests {
    @Test func castsFloatsLazilyAndLeavesIntegers() throws {
        var model = try bertTiny()
        model.tensors.append(Tensor(name: "embeddings.position_ids", dtype: .i64, shape: [1, 2],
                                    data: .owned(TensorBuffer([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]))))
        let half = try model.casting(to: .f16)
        #expect(half.tensors.filter { $0.dtype == .f16 }.count == 71)
        #expect(half["embeddings.position_ids"]?.dtype == .i64)
        #expect(half.byteCount == 71 * 0 + (model.byteCount! - 16) / 2 + 16)
        #expect(half.mainFloatType == .f16)
        let tensor = try #require(half["embeddings.word_embeddings.weight"])
        #expect(!tensor.data.isMapped)
        let source = try #require(model["embeddings.word_embeddings.weight"])
        let first = try source.withBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        let firstHalf = try tensor.withBytes { UInt16(littleEndian: $0.loadUnaligned(as: UInt16.self)) }
        #expect(firstHalf == FloatBits.halfBits(fromFloatBits: first))
    }

    @Test func refusesTypesWithoutAKernelYet() throws {
        #expect(throws: ModelError.self) { try bertTiny().casting(to: .q4_K) }
    }
}

@Suite struct LayerSelectionTests {
    @Test func keepsTheFirstLayers() throws {
        let model = try bertTiny()
        let two = try model.keepingFirstLayers(2)
        #expect(two.config.numHiddenLayers == 2)
        #expect(Set(two.tensors.compactMap { LayerName.index(in: $0.name) }) == [0, 1])
        #expect(two.tensors.count == 71 - 32)
        #expect(two.dropped.count == 32)
        #expect(two.dropped.allSatisfy { $0.reason.hasPrefix("layer ") && $0.byteCount > 0 })
        // Kept tensors are the source's own bytes, untouched.
        #expect(two["encoder.layer.1.output.dense.weight"]?.data.isMapped == true)
    }

    @Test func renumbersAChosenListInOrder() throws {
        let model = try bertTiny()
        let picked = try model.selectingLayers([3, 1])
        let source = try #require(model["encoder.layer.3.attention.self.query.weight"])
        let moved = try #require(picked["encoder.layer.0.attention.self.query.weight"])
        #expect(try moved.withBytes { Array($0) } == (try source.withBytes { Array($0) }))
        #expect(picked.config.numHiddenLayers == 2)
        let layerOrder = picked.tensors.compactMap { LayerName.index(in: $0.name) }
        #expect(layerOrder == layerOrder.sorted())
        #expect(picked.tensors.first?.name.hasPrefix("embeddings.") == true)
        #expect(picked.tensors.last?.name.hasPrefix("pooler.") == true)
    }

    @Test(arguments: [[7], [0, 0], []])
    func rejectsImpossibleSelections(layers: [Int]) throws {
        #expect(throws: ModelError.self) { try bertTiny().selectingLayers(layers) }
    }

    @Test func needsLayerNames() {
        let model = Model(tensors: [Tensor(name: "w", dtype: .u8, shape: [1], data: .owned(TensorBuffer([1])))])
        #expect {
            try model.keepingFirstLayers(1)
        } throws: { String(describing: $0).contains("needs BERT-style 'encoder.layer.N.' tensor names") }
        #expect(throws: ModelError.self) { try bertTiny().keepingFirstLayers(5) }
        #expect(throws: ModelError.self) { try bertTiny().keepingFirstLayers(0) }
    }
}
