import BinaryIO
import ModelIR
@testable import Quantization
import TestSupport
import Testing

/// The SIMD block kernels (16 lanes of one block) give the scalar kernels' bytes, block for block: on random
/// weights, on blocks built to hit every rounding tie (scale 1, values k + 0.5), on zeros of both signs, and on
/// subnormal blocks, where `1 / d` overflows. The scalar kernels are the ones held to ggml's and gguf-py's bytes by
/// the end-to-end tests.
@Suite struct LaneKernelTests {
    /// Blocks of 32 values: each kind of edge case, then random ones; prints the seed.
    static func blocks(seed: UInt64) -> [[Float]] {
        var generator = SeededGenerator(seed: seed)
        var blocks: [[Float]] = []
        // Scale 1 for Q8_0 (max 127) and Q4_1 (range 15): values on and around half-integers.
        func block(_ value: (Int) -> Float) -> [Float] { (0..<32).map(value) }
        blocks.append(block { i in i == 0 ? 127 : Float(i % 16) - 7.5 })
        blocks.append(block { i in i == 0 ? -127 : -(Float(i % 9) + 0.5) })
        blocks.append(block { i in
            let half: Float = i % 2 == 0 ? 0.5 : 0
            return i == 31 ? 7 : Float(i % 15) - 8 + half
        })
        blocks.append(block { i in i == 5 ? -8 : (i == 6 ? 8 : Float(i % 7) * 0.5) })  // a tie between ±max
        blocks.append(block { i in i == 5 ? 8 : (i == 6 ? -8 : Float(i % 7) * -0.5) })
        blocks.append([Float](repeating: 0, count: 32))
        blocks.append(block { i in i % 3 == 0 ? -0.0 : 0.0 })
        blocks.append(block { i in i % 2 == 0 ? -0.0 : 0.25 })
        blocks.append(block { i in i % 2 == 0 ? 0.0 : -0.25 })
        blocks.append(block { i in Float(bitPattern: UInt32(i + 1) * 1000) })  // subnormals: 1 / d overflows
        blocks.append(block { i in i % 2 == 0 ? 0 : -Float(bitPattern: UInt32(i + 1) * 37) })
        for _ in 0..<4000 {
            let scale = Float.random(in: 1e-6...10, using: &generator)
            blocks.append((0..<32).map { _ in Float.random(in: -scale...scale, using: &generator) })
        }
        return blocks
    }

    static func bytes(_ blocks: [[Float]]) -> [UInt8] {
        blocks.joined().flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    @Test func q8_0LanesMatchTheScalarBlock() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        let blocks = Self.blocks(seed: seed)
        let input = Self.bytes(blocks)
        let lanes = try input.withUnsafeBytes { try Q8_0.quantize($0) }.bytes
        var scalar = [UInt8](repeating: 0, count: blocks.count * Q8_0.blockBytes)
        input.withUnsafeBytes { source in
            scalar.withUnsafeMutableBytes { out in
                for block in blocks.indices { Q8_0.quantizeBlockScalar(source, block, into: out) }
            }
        }
        let first = (0..<blocks.count).first { lanes[($0 * 34)..<($0 * 34 + 34)] != scalar[($0 * 34)..<($0 * 34 + 34)] }
        #expect(first == nil, "block \(first ?? -1): \(first.map { blocks[$0] } ?? []) (seed \(seed))")
    }

    @Test(arguments: [DType.q4_0, .q4_1, .q5_0, .q5_1])
    func legacyLanesMatchTheScalarBlock(type: DType) throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        let blocks = Self.blocks(seed: seed)
        let input = Self.bytes(blocks)
        let lanes = try input.withUnsafeBytes { try BlockQuantizer.quantize($0, to: type) }.bytes
        var scalar = [UInt8](repeating: 0, count: blocks.count * type.blockBytes)
        scalar.withUnsafeMutableBytes { out in
            var q = [UInt8](repeating: 0, count: 32)
            for (index, block) in blocks.enumerated() {
                block.withUnsafeBufferPointer { x in
                    q.withUnsafeMutableBufferPointer { BlockQuantizer.encode(x, type, into: out, at: index * type.blockBytes, q: $0) }
                }
            }
        }
        let n = type.blockBytes
        let first = (0..<blocks.count).first { lanes[($0 * n)..<($0 * n + n)] != scalar[($0 * n)..<($0 * n + n)] }
        #expect(first == nil, "\(type) block \(first ?? -1): \(first.map { blocks[$0] } ?? []) (seed \(seed))")
    }
}
