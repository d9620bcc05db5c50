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
        let counter = PullCounter()
        let source = try bertTiny()
        var model = source
        model.tensors = try source.tensors.map { try counter.counting($0) }
        let positions: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        model.tensors.append(Tensor(name: "embeddings.position_ids", dtype: .i64, shape: [1, 2], data: counter.producer(positions)))
        let half = try model.casting(to: .f16)
        // Casting only plans: no tensor's bytes are read or converted until one is pulled.
        #expect(counter.pulls == 0)
        #expect(half.tensors.filter { $0.dtype == .f16 }.count == 71)
        #expect(half["embeddings.position_ids"]?.dtype == .i64)
        #expect(half.byteCount == (model.byteCount! - 16) / 2 + 16)
        #expect(half.mainFloatType == .f16)
        #expect(counter.pulls == 0)
        // Pulling one cast tensor reads its source once, and gives the f16 of the f32 values.
        let tensor = try #require(half["embeddings.word_embeddings.weight"])
        let original = try #require(source["embeddings.word_embeddings.weight"])
        let floats = try original.withBytes { raw in (0..<(raw.count / 4)).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) } }
        let halves = try tensor.withBytes { raw in (0..<(raw.count / 2)).map { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) } }
        #expect(counter.pulls == 1)
        #expect(halves == floats.map(FloatBits.halfBits(fromFloatBits:)))
        // The integer tensor is left as it was: same type, same bytes, read only when pulled.
        #expect(try half["embeddings.position_ids"]?.withBytes { Array($0) } == positions)
        #expect(counter.pulls == 2)
    }

    @Test func refusesTypesWithoutAKernelYet() throws {
        let model = Model(tensors: [Tensor(name: "w", dtype: .f32, shape: [2], data: .owned(TensorBuffer(count: 8)))])
        #expect(try model.casting(to: .f16).tensors.first?.dtype == .f16)
        for type in [DType.q4_K, .q8_0, .i8] {
            #expect {
                try model.casting(to: type)
            } throws: { error in
                guard let error = error as? ModelError else { return false }
                return error.kind == .unsupported && error.reason == "a cast to \(type.rawValue) is not available; casts: f32, f16, bf16, f64"
            }
        }
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

    @Test(arguments: [
        ([7], "layer 7 does not exist; the model has layers 0...3"),
        ([1, 4], "layer 4 does not exist; the model has layers 0...3"),
        ([-1], "layer -1 does not exist; the model has layers 0...3"),
        ([0, 0], "layer list [0, 0] repeats a layer"),
        ([], "layer selection must keep at least one layer"),
    ])
    func rejectsImpossibleSelections(layers: [Int], rule: String) throws {
        let model = try bertTiny()  // a fixture that fails to load fails the test here, not inside the expectation
        #expect {
            try model.selectingLayers(layers)
        } throws: { error in
            (error as? ModelError)?.reason == rule && (error as? ModelError)?.kind == .invalidRequest
        }
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

/// The transpose moves every element to (c, r) for each element width, whatever the shape: edges that are not whole
/// 8 × 8 blocks, one row or column, shapes past the 128-row bands that go to separate cores, and shapes computed in
/// several strips of output rows ([2000, 300]: 131 rows a strip for f32, 65 for 8-byte elements; [40, 17000]: 6553
/// for f32, the last strip short).
@Suite struct TransposeTests {
    @Test(arguments: [[1, 1], [3, 5], [8, 8], [9, 17], [16, 24], [130, 7], [7, 130], [257, 65], [300, 1024], [2000, 300],
                      [40, 17000]])
    func everyElementLandsTransposed(shape: [Int]) throws {
        let (rows, columns) = (shape[0], shape[1])
        var generator = SeededGenerator(seed: UInt64(rows * 1000 + columns))
        for width in [1, 2, 4, 8] {
            let bytes = (0..<(rows * columns * width)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let tensor = Tensor(name: "w", dtype: [1: DType.u8, 2: .f16, 4: .f32, 8: .i64][width]!, shape: Shape(shape),
                                data: .owned(TensorBuffer(bytes)))
            let transposed = try tensor.transposed()
            #expect(transposed.shape.dimensions == [columns, rows])
            let moved = try transposed.withBytes { Array($0) }
            var expected = [UInt8](repeating: 0, count: bytes.count)
            for r in 0..<rows {
                for c in 0..<columns {
                    for b in 0..<width { expected[(c * rows + r) * width + b] = bytes[(r * columns + c) * width + b] }
                }
            }
            #expect(moved == expected, "width \(width)")
        }
    }
}
