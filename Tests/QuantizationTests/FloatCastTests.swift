import BinaryIO
import ModelIR
import Quantization
import SafetensorsFormat
import TestSupport
import Testing

/// Casts compared bit for bit with what PyTorch computed for the same values (`Samples/casts`).
@Suite struct FloatCastTests {
    /// The fixture's tensors by name (read per test: a missing or broken fixture fails the tests that need it, not the run).
    static func fixture() throws -> [String: Tensor] {
        let (tensors, _) = try SafetensorsReader.read(path: Samples.path("casts/float-casts.safetensors"))
        return Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0) })
    }

    static let cases: [(source: String, target: String, dtype: DType)] = [
        ("f32", "f32_to_f16", .f16), ("f32", "f32_to_bf16", .bf16),
        ("f32_to_f16", "f16_to_f32", .f32), ("f32_to_bf16", "bf16_to_f32", .f32),
        ("f64", "f64_to_f32", .f32), ("f64", "f64_to_f16", .f16),
    ]

    @Test(arguments: cases)
    func matchesPyTorch(source: String, target: String, dtype: DType) throws {
        let fixture = try Self.fixture()
        let input = try #require(fixture[source])
        let expected = try #require(fixture[target])
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

    /// A tensor of several 64K-element chunks (cast on several cores) against an independent reference computed
    /// here one element after another: Swift's own `Float16(Float)` conversion (the CPU's, round to nearest even)
    /// where the platform has `Float16`. Every element is compared, across the whole float range: normal
    /// values, half subnormals, values that overflow to infinity, and exact halfway cases.
    @Test func largeTensorsSplitAcrossCoresGiveTheSameBytes() throws {
        var rng = SeededGenerator(seed: 7)
        let count = 300_001  // four full chunks and a partial one
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            switch i % 4 {
            case 0: values[i] = Float.random(in: -100...100, using: &rng)
            case 1: values[i] = Float(sign: .plus, exponent: Int.random(in: -30...17, using: &rng),
                                      significand: Float.random(in: 1..<2, using: &rng)) * (Bool.random(using: &rng) ? 1 : -1)
            case 2: values[i] = Float(bitPattern: UInt32.random(in: 0x3380_0000...0x4780_0000, using: &rng) & ~0x0FFF | 0x1000)  // halfway
            default: values[i] = Float(bitPattern: UInt32.random(in: 0...0x7F7F_FFFF, using: &rng) | (UInt32(i & 8) << 28))  // any finite
            }
        }
        let source = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        let output = source.withUnsafeBytes { FloatCast.convert($0, from: .f32, to: .f16) }.bytes
        #expect(output.count == count * 2)
        var mismatches: [Int] = []
        for i in 0..<count {
            let h = UInt16(output[i * 2]) | UInt16(output[i * 2 + 1]) << 8
            if h != Self.referenceHalfBits(values[i]) { mismatches.append(i) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(count) elements differ, first at \(mismatches.first ?? -1) (chunk \((mismatches.first ?? 0) >> 16)), value \(values[mismatches.first ?? 0])")
    }

    /// binary32 → binary16 computed independently of `FloatBits`: by the compiler and CPU where Swift has `Float16`,
    /// else through `Double`, rounded to the half grid by hand (checked equal to `Float16(_:)` on Linux for a
    /// million finite values spread over the whole range).
    static func referenceHalfBits(_ value: Float) -> UInt16 {
        #if !(arch(x86_64) && canImport(Darwin))  // Apple platforms on Intel have no Float16
        return Float16(value).bitPattern
        #else
        let sign: UInt16 = value.sign == .minus ? 0x8000 : 0
        let magnitude = Double(abs(value))
        if magnitude >= 65520 { return sign | 0x7C00 }
        let unit = magnitude < 0x1p-14 ? 0x1p-24 : Double(sign: .plus, exponent: magnitude.exponent - 10, significand: 1)
        let rounded = (magnitude / unit).rounded(.toNearestOrEven) * unit
        if rounded == 0 { return sign }
        if rounded < 0x1p-14 { return sign | UInt16(rounded / 0x1p-24) }
        let exponent = rounded.exponent
        let mantissa = UInt16((rounded / Double(sign: .plus, exponent: exponent, significand: 1) - 1) * 1024)
        return sign | UInt16(exponent + 15) << 10 | mantissa
        #endif
    }
}
