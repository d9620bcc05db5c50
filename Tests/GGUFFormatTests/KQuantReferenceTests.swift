import BinaryIO
import ModelIR
import Quantization
import SafetensorsFormat
import TestSupport
import Testing

/// Q4_K / Q5_K / Q6_K against the bytes ggml's own reference quantizers wrote (Samples/generate.py,
/// `kquant_references`, through llama-cpp-python's libggml-base).
@Suite struct KQuantReferenceTests {
    /// The fixture's tensors by name (read per test: a missing or broken fixture fails the tests that need it, not the run).
    static func reference() throws -> [String: Tensor] {
        let (tensors, _) = try SafetensorsReader.read(path: Samples.path("gguf/kquant-reference.safetensors"))
        return Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
    }

    static let inputs = ["normal", "heavy_tailed", "zeros", "constant", "tiny", "positive", "weights_like", "mixed", "large"]

    @Test(arguments: inputs)
    func matchesGGMLByteForByte(input: String) throws {
        let x = try #require(try Self.reference()[input])
        for type in [DType.q4_K, .q5_K, .q6_K] {
            let ours = try x.withBytes { try BlockQuantizer.quantize($0, to: type) }.bytes
            let theirs = try #require(try Self.reference()[input + "." + type.rawValue]).withBytes { Array($0) }
            #expect(ours.count == theirs.count)
            let firstDifference = zip(ours, theirs).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(firstDifference == nil, "\(type) \(input): first differing byte at \(firstDifference ?? -1) (block \((firstDifference ?? 0) / type.blockBytes))")
            // Dequantizing ggml's own bytes gives ggml's floats.
            let back = theirs.withUnsafeBytes { BlockQuantizer.dequantize($0, from: type) }.bytes
            #expect(back == (try #require(try Self.reference()[input + "." + type.rawValue + ".dequantized"]).withBytes { Array($0) }), "\(type) dequantized \(input)")
        }
    }

    @Test func moreBitsGiveSmallerErrors() throws {
        let x = try #require(try Self.reference()["weights_like"])
        let values = try x.withBytes { Array($0.bindMemory(to: Float.self)) }
        var errors: [Float] = []
        for type in [DType.q4_K, .q5_K, .q6_K] {
            let back = try x.withBytes { bytes in
                try BlockQuantizer.quantize(bytes, to: type).withBytes { BlockQuantizer.dequantize($0, from: type) }.bytes
            }
            let restored = back.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            errors.append(zip(values, restored).map { abs($0 - $1) }.max() ?? 0)
        }
        #expect(errors[0] > errors[1] && errors[1] > errors[2], "max errors \(errors)")
        #expect(errors[2] < 0.002)
    }
}
