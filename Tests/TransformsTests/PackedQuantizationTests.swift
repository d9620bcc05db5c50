import BinaryIO
import ModelIR
import Quantization
import SafetensorsFormat
import TestSupport
import Testing
import Transforms

/// int8 per-channel against compressed-tensors' own output and MLX affine against `mlx.core.quantize`
/// (Samples/generate.py, `packed_references`), on the K-quant inputs (zeros, constants, 1e-30, heavy tails …).
@Suite struct PackedReferenceTests {
    /// The fixtures' tensors by name (read per test: a missing or broken fixture fails the tests that need it, not the run).
    static func reference() throws -> [String: Tensor] {
        let (tensors, _) = try SafetensorsReader.read(path: Samples.path("packed/reference.safetensors"))
        let (inputs, _) = try SafetensorsReader.read(path: Samples.path("gguf/kquant-reference.safetensors"))
        return Dictionary(uniqueKeysWithValues: (tensors + inputs.filter { !$0.name.contains(".") }).map { ($0.name, $0) })
    }

    static func bytes(_ name: String) throws -> [UInt8] { try #require(try reference()[name], "\(name)").withBytes { Array($0) } }

    static func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    @Test(arguments: ["normal", "heavy_tailed", "zeros", "constant", "tiny", "positive", "weights_like", "mixed", "large"])
    func int8MatchesCompressedTensors(input: String) throws {
        let x = try #require(try Self.reference()[input])
        let rows = x.shape.dimensions[0]
        let (codes, scales) = try x.withBytes { try Int8PerChannel.quantize($0, rows: rows) }
        #expect(codes.bytes == (try Self.bytes(input + ".int8")), "codes \(input)")
        #expect(Self.floats(scales) == (try Self.bytes(input + ".int8.scale")), "scales \(input)")
    }

    @Test(arguments: ["normal", "heavy_tailed", "zeros", "constant", "tiny", "positive", "weights_like", "mixed", "large"])
    func mlxMatchesMLXCoreQuantize(input: String) throws {
        let x = try #require(try Self.reference()[input])
        for bits in [4, 8] {
            for group in [32, 64, 128] {
                let key = "\(input).mlx\(bits)g\(group)"
                let (packed, scales, biases) = try x.withBytes { try MLXAffine.quantize($0, groupSize: group, bits: bits) }
                #expect(packed.bytes == (try Self.bytes(key)), "\(key) packed")
                #expect(Self.floats(scales) == (try Self.bytes(key + ".scales")), "\(key) scales")
                #expect(Self.floats(biases) == (try Self.bytes(key + ".biases")), "\(key) biases")
                // Dequantized values lie within half a step of the input, or 1.5 steps at the end MLX does not keep
                // exact (a step is |scale|, re-fitted to the larger end, so the other end may clamp).
                let back = packed.withBytes { MLXAffine.dequantize($0, scales: scales, biases: biases, groupSize: group, bits: bits) }
                let original = try x.withBytes { Array($0.bindMemory(to: Float.self)) }
                let restored = back.withBytes { Array($0.bindMemory(to: Float.self)) }
                for (i, (a, b)) in zip(original, restored).enumerated() where a.isFinite && abs(a) < 1e4 {
                    #expect(abs(a - b) <= abs(scales[i / group]) * 1.5001 + 1e-6, "\(key) value \(i)")
                    if abs(a - b) > abs(scales[i / group]) * 1.5001 + 1e-6 { break }
                }
            }
        }
    }

    /// The scales and biases computed on their own (for the `scales` / `biases` tensors, written apart from the codes)
    /// are those `quantize` returns.
    @Test(arguments: ["normal", "heavy_tailed", "zeros", "constant", "tiny", "mixed", "large"])
    func mlxGroupParametersAreTheQuantizersOwn(input: String) throws {
        let x = try #require(try Self.reference()[input])
        for bits in [4, 8] {
            for group in [32, 128] {
                let (_, scales, biases) = try x.withBytes { try MLXAffine.quantize($0, groupSize: group, bits: bits) }
                let alone = try x.withBytes { try MLXAffine.groupParameters($0, groupSize: group, bits: bits) }
                #expect(Self.floats(alone.scales) == Self.floats(scales) && Self.floats(alone.biases) == Self.floats(biases), "\(input) \(bits) \(group)")
            }
        }
    }

    /// Dequantized values are `scale · q + bias` (a product, then a sum, each rounded) for every code, exactly, in
    /// whole groups and in a tail past the last scale (0 there).
    @Test(arguments: ["normal", "mixed", "large"])
    func mlxDequantizesEachCodeExactly(input: String) throws {
        let x = try #require(try Self.reference()[input])
        for bits in [4, 8] {
            for group in [32, 128] {
                var (packed, scales, biases) = try x.withBytes { try MLXAffine.quantize($0, groupSize: group, bits: bits) }
                scales.removeLast()  // the last group has no scale: zeros
                let words = packed.withBytes { Array($0.bindMemory(to: UInt32.self)) }
                let perWord = 32 / bits
                var expected: [Float] = []
                for i in 0..<(words.count * perWord) {
                    let q = Float((words[i / perWord] >> UInt32((i % perWord) * bits)) & UInt32((1 << bits) - 1))
                    let g = i / group
                    if g < scales.count {
                        let product = scales[g] * q
                        expected.append(product + biases[g])
                    } else {
                        expected.append(0)
                    }
                }
                let back = packed.withBytes { MLXAffine.dequantize($0, scales: scales, biases: biases, groupSize: group, bits: bits) }
                let values = back.withBytes { Array($0.bindMemory(to: Float.self)) }
                #expect(values.map(\.bitPattern) == expected.map(\.bitPattern), "\(input) \(bits) bits, groups of \(group)")
            }
        }
    }

    @Test func mlxOnHalfWeightsKeepsHalfScales() throws {
        let x = try #require(try Self.reference()["weights_like_f16"])
        let model = Model(tensors: [Tensor(name: "dense.weight", dtype: .f16, shape: x.shape, data: .owned(TensorBuffer(try x.withBytes { Array($0) })))])
        let packed = try model.quantizingPacked(.mlxAffine(bits: 4, groupSize: 64))
        #expect(packed.tensors.map(\.name) == ["dense.weight", "dense.scales", "dense.biases"])
        #expect(packed["dense.scales"]?.dtype == .f16)
        #expect(try packed["dense.weight"]!.withBytes { Array($0) } == (try Self.bytes("weights_like_f16.mlx4g64")))
        #expect(try packed["dense.scales"]!.withBytes { Array($0) } == (try Self.bytes("weights_like_f16.mlx4g64.scales")))
        #expect(try packed["dense.biases"]!.withBytes { Array($0) } == (try Self.bytes("weights_like_f16.mlx4g64.biases")))
        #expect(packed.config["quantization"]?["bits"]?.intValue == 4)
        // Expanding gives a float weight of the original shape again.
        let expanded = try packed.dequantizingPacked()
        #expect(expanded.tensors.map(\.info) == [TensorInfo(name: "dense.weight", dtype: .f32, shape: x.shape)])
        #expect(expanded.config["quantization"] == nil)
    }

    @Test func malformedPackedWeightsAreErrors() throws {
        var config = ModelConfig()
        config["quantization"] = .object([("group_size", .integer(64)), ("bits", .integer(4))])
        let model = Model(tensors: [
            Tensor(name: "d.weight", dtype: .u32, shape: [2, 8], data: .owned(TensorBuffer(count: 64))),
            Tensor(name: "d.scales", dtype: .f32, shape: [2, 3], data: .owned(TensorBuffer(count: 24))),
            Tensor(name: "d.biases", dtype: .f32, shape: [2, 3], data: .owned(TensorBuffer(count: 24))),
        ], config: config)
        #expect { try model.dequantizingPacked() } throws: { "\($0)".contains("do not fit d.weight (2 × 64, groups of 64)") }
        let int8 = Model(tensors: [
            Tensor(name: "l.weight", dtype: .i8, shape: [4, 4], data: .owned(TensorBuffer(count: 16))),
            Tensor(name: "l.weight_scale", dtype: .f32, shape: [3, 1], data: .owned(TensorBuffer(count: 12))),
        ])
        #expect { try int8.dequantizingPacked() } throws: { "\($0)".contains("expected one float scale per row of l.weight (4)") }
    }
}
