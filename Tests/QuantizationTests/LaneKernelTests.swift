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

/// Q8_0 blocks expand to d · q exactly, d converted from half bit for bit (normal, subnormal, zero, infinite and NaN
/// scales), whichever kernel the CPU runs.
@Suite struct Q8_0ExpansionTests {
    @Test func everyScaleKindExpandsExactly() {
        var generator = SeededGenerator(seed: 34)
        let scales: [UInt16] = [0x3C00, 0x0001, 0x03FF, 0x8000, 0x0000, 0x7C00, 0xFC00, 0x7E01, 0x7C01, 0x2E66, 0xBA00, 0x7BFF]
            + (0..<53).map { _ in UInt16.random(in: 0...UInt16.max, using: &generator) }
        var bytes: [UInt8] = []
        for scale in scales {
            bytes += [UInt8(scale & 0xFF), UInt8(scale >> 8)]
            bytes += (0..<32).map { j in j < 4 ? [0x80, 0x7F, 0x00, 0xFF][j] : UInt8.random(in: 0...255, using: &generator) }
        }
        let expanded = bytes.withUnsafeBytes { Q8_0.dequantize($0) }
        expanded.withBytes { out in
            for (b, scale) in scales.enumerated() {
                let d = Float(bitPattern: FloatBits.floatBits(fromHalfBits: scale))
                for j in 0..<32 {
                    let expected = d * Float(Int8(bitPattern: bytes[b * 34 + 2 + j]))
                    let got = Float(bitPattern: UInt32(littleEndian: out.loadUnaligned(fromByteOffset: (b * 32 + j) * 4, as: UInt32.self)))
                    #expect(got.bitPattern == expected.bitPattern || (got.isNaN && expected.isNaN && got.bitPattern == expected.bitPattern),
                            "block \(b) (scale 0x\(String(scale, radix: 16))) value \(j): \(got) vs \(expected)")
                }
            }
        }
    }
}

/// Per-channel int8 codes expand to code · scale exactly, row by row, whichever kernel the CPU runs.
@Suite struct Int8ExpansionTests {
    @Test(arguments: [(1, 1), (7, 37), (3, 64), (130, 9)])
    func codesExpandToCodeTimesScale(rows: Int, columns: Int) {
        var generator = SeededGenerator(seed: UInt64(rows * 1000 + columns))
        let codes = (0..<(rows * columns)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let scales = (0..<rows).map { _ in Float.random(in: 1e-6..<0.5, using: &generator) }
        let expanded = codes.withUnsafeBytes { Int8PerChannel.dequantize($0, scales: scales) }
        expanded.withBytes { out in
            for i in 0..<codes.count {
                let expected = Float(Int8(bitPattern: codes[i])) * scales[i / columns]
                let got = Float(bitPattern: UInt32(littleEndian: out.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                #expect(got.bitPattern == expected.bitPattern, "value \(i): \(got) vs \(expected)")
            }
        }
    }
}
