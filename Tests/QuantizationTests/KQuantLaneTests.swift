import BinaryIO
import ModelIR
@testable import Quantization
import TestSupport
import Testing

/// The K-quant lane kernels (one SIMD lane per sub-block) give the scalar kernels' bytes, super-block for
/// super-block. The scalar kernels are the ones held to ggml's bytes by `KQuantReferenceTests`. The edge cases aim at
/// every branch a lane turns into a select: flat sub-blocks (`max == min`), negligible Q6_K sub-blocks, sub-blocks
/// whose 6-bit or int8 scale rounds to 0 next to an outlier (their levels are the fit's own), rounding ties, zeros of
/// both signs, subnormals, huge values whose sums overflow, and random data of many scales.
@Suite struct KQuantLaneTests {
    /// Super-blocks of 256 values: each kind of edge case, then random ones.
    static func superBlocks(seed: UInt64) -> [[Float]] {
        var generator = SeededGenerator(seed: seed)
        var blocks: [[Float]] = []
        func block(_ value: (Int) -> Float) -> [Float] { (0..<256).map(value) }
        blocks.append(block { _ in 0 })
        blocks.append(block { _ in -0.0 })
        blocks.append(block { i in i % 3 == 0 ? -0.0 : 0 })
        blocks.append(block { _ in 0.75 })  // every sub-block flat, positive
        blocks.append(block { _ in -1.25 })  // flat, negative
        blocks.append(block { i in i < 32 || (i >= 128 && i < 144) ? 2 : Float(i % 7) - 3 })  // some flat sub-blocks
        blocks.append(block { i in i == 77 ? 1000 : Float(i % 5) * 0.001 })  // one outlier: small scales round to 0
        blocks.append(block { i in i == 3 ? -500 : Float(i % 9) * 1e-4 - 4e-4 })
        blocks.append(block { i in i == 200 ? 50 : (i % 2 == 0 ? 1e-9 : -1e-9) })
        blocks.append(block { i in Float(i % 16) })  // integer grid: ties everywhere
        blocks.append(block { i in Float(i % 32) - 15.5 })
        blocks.append(block { i in Float(i % 64) - 32 })
        blocks.append(block { i in (Float(i % 11) - 5) * 0.5 })
        blocks.append(block { i in i % 2 == 0 ? -0.0 : 0.25 })
        blocks.append(block { i in i % 2 == 0 ? 0.0 : -0.25 })
        blocks.append(block { i in Float(bitPattern: UInt32(i + 1) * 1000) })  // subnormals
        blocks.append(block { i in i % 2 == 0 ? 0 : -Float(bitPattern: UInt32(i + 1) * 37) })
        blocks.append(block { i in Float(i % 13) * 1e-16 })  // around ggml's GROUP_MAX_EPS (1e-15)
        blocks.append(block { i in i < 128 ? Float(i % 13) * 1e-17 : Float(i % 13) - 6 })
        blocks.append(block { i in (Float(i % 17) - 8) * 1e20 })  // sums of squares overflow to infinity
        blocks.append(block { i in (Float(i % 17) - 8) * 3e18 })
        blocks.append(block { i in i % 32 == 0 ? 1 : 0 })
        blocks.append(block { i in i % 16 == 5 ? -1 : 0 })
        blocks.append(block { i in i % 32 < 31 ? 0.5 : -0.5 })
        for _ in 0..<1500 {
            let scale = Float.random(in: 1e-6...10, using: &generator)
            let outlier = Int.random(in: 0..<512, using: &generator)  // half of the blocks get one
            blocks.append((0..<256).map { i in
                let v = Float.random(in: -scale...scale, using: &generator)
                return i == outlier ? v * 40 : v
            })
        }
        for _ in 0..<300 {  // all-positive and all-negative blocks: the fitted minimum is clamped to 0
            let sign: Float = Bool.random(using: &generator) ? 1 : -1
            blocks.append((0..<256).map { _ in sign * Float.random(in: 0.01...1, using: &generator) })
        }
        return blocks
    }

    @Test(arguments: [DType.q4_K, .q5_K, .q6_K])
    func lanesMatchTheScalarSuperBlock(type: DType) throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        let blocks = Self.superBlocks(seed: seed)
        let input = LaneKernelTests.bytes(blocks)
        let lanes = try input.withUnsafeBytes { try KQuants.quantize($0, to: type) }.bytes
        let n = type.blockBytes
        var scalar = [UInt8](repeating: 0, count: blocks.count * n)
        let workspace = KQuants.Workspace()
        scalar.withUnsafeMutableBytes { out in
            for (index, block) in blocks.enumerated() {
                for j in 0..<256 { workspace.x[j] = block[j] }
                let target = UnsafeMutableRawBufferPointer(rebasing: out[(index * n)..<((index + 1) * n)])
                if type == .q6_K { workspace.encodeQ6K(into: target) } else { workspace.encodeAffine(type, into: target) }
            }
        }
        #expect(lanes.count == scalar.count)
        let first = (0..<blocks.count).first { lanes[($0 * n)..<($0 * n + n)] != scalar[($0 * n)..<($0 * n + n)] }
        #expect(first == nil, "\(type) super-block \(first ?? -1): \(first.map { blocks[$0] } ?? []) (seed \(seed))")
    }
}
