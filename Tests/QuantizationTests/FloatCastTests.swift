import BinaryIO
import ModelIR
import Quantization
import SafetensorsFormat
import TestSupport
import Testing

/// Casts compared bit for bit with what PyTorch computed for the same values (`Samples/casts`).
@Suite struct FloatCastTests {
    static let fixture: [String: Tensor] = {
        let (tensors, _) = try! SafetensorsReader.read(path: Samples.path("casts/float-casts.safetensors"))
        return Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
    }()

    static let cases: [(source: String, target: String, dtype: DType)] = [
        ("f32", "f32_to_f16", .f16), ("f32", "f32_to_bf16", .bf16),
        ("f32_to_f16", "f16_to_f32", .f32), ("f32_to_bf16", "bf16_to_f32", .f32),
        ("f64", "f64_to_f32", .f32), ("f64", "f64_to_f16", .f16),
    ]

    @Test(arguments: cases)
    func matchesPyTorch(source: String, target: String, dtype: DType) throws {
        let input = try #require(Self.fixture[source])
        let expected = try #require(Self.fixture[target])
        let output = try input.withBytes { FloatCast.convert($0, from: input.dtype, to: dtype) }
        let wanted = try expected.withBytes { Array($0) }
        let got = output.bytes
        #expect(got.count == wanted.count)
        let mismatches = zip(got, wanted).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(mismatches.isEmpty, "first mismatch at byte \(mismatches.first?.offset ?? -1) of \(input.shape[0]) elements")
    }

    @Test func keepsNaNAndInfinity() {
        let values: [UInt32] = [0x7FC0_0000, 0xFFC0_0000, 0x7F80_0001, 0x7F80_0000, 0xFF80_0000]
        var bytes: [UInt8] = []
        for v in values { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        let half = bytes.withUnsafeBytes { FloatCast.convert($0, from: .f32, to: .f16) }.bytes
        let halves = stride(from: 0, to: half.count, by: 2).map { UInt16(half[$0]) | UInt16(half[$0 + 1]) << 8 }
        #expect(halves == [0x7E00, 0xFE00, 0x7E00, 0x7C00, 0xFC00])
        let brain = bytes.withUnsafeBytes { FloatCast.convert($0, from: .f32, to: .bf16) }.bytes
        let brains = stride(from: 0, to: brain.count, by: 2).map { UInt16(brain[$0]) | UInt16(brain[$0 + 1]) << 8 }
        #expect(brains == [0x7FC0, 0xFFC0, 0x7FC0, 0x7F80, 0xFF80])
    }

    @Test func largeTensorsSplitAcrossCoresGiveTheSameBytes() {
        var rng = SeededGenerator(seed: 7)
        let count = 300_000
        var bytes = [UInt8](repeating: 0, count: count * 4)
        for i in 0..<count {
            let f = Float.random(in: -100...100, using: &rng)
            withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.replaceSubrange((i * 4)..<(i * 4 + 4), with: $0) }
        }
        let output = bytes.withUnsafeBytes { FloatCast.convert($0, from: .f32, to: .f16) }.bytes
        for i in stride(from: 0, to: count, by: 997) {
            let f = UInt32(bytes[i * 4]) | UInt32(bytes[i * 4 + 1]) << 8 | UInt32(bytes[i * 4 + 2]) << 16 | UInt32(bytes[i * 4 + 3]) << 24
            let h = UInt16(output[i * 2]) | UInt16(output[i * 2 + 1]) << 8
            #expect(h == FloatBits.halfBits(fromFloatBits: f))
        }
    }
}
