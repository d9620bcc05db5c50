import BinaryIO
import ModelIR
import Quantization
import TestSupport
import Testing

/// Every quantizing kernel refuses NaN and ±Inf (naming the first such element) instead of trapping (Q8_0's
/// scale became NaN and its int8 conversion trapped) or turning the value into a finite level (Q4_0 … Q5_1,
/// per-channel int8, MLX).
@Suite struct NonFiniteQuantizationTests {
    enum Kernel: CaseIterable, Sendable {
        case q8_0, q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K, int8, mlx4, mlx8

        func run(_ bytes: UnsafeRawBufferPointer) throws(NonFiniteValue) {
            switch self {
            case .q8_0: _ = try Q8_0.quantize(bytes)
            case .q4_0: _ = try BlockQuantizer.quantize(bytes, to: .q4_0)
            case .q4_1: _ = try BlockQuantizer.quantize(bytes, to: .q4_1)
            case .q5_0: _ = try BlockQuantizer.quantize(bytes, to: .q5_0)
            case .q5_1: _ = try BlockQuantizer.quantize(bytes, to: .q5_1)
            case .q4_K: _ = try KQuants.quantize(bytes, to: .q4_K)
            case .q5_K: _ = try BlockQuantizer.quantize(bytes, to: .q5_K)
            case .q6_K: _ = try BlockQuantizer.quantize(bytes, to: .q6_K)
            case .int8: _ = try Int8PerChannel.quantize(bytes, rows: 2)
            case .mlx4: _ = try MLXAffine.quantize(bytes, groupSize: 64, bits: 4)
            case .mlx8: _ = try MLXAffine.quantize(bytes, groupSize: 32, bits: 8)
            }
        }
    }

    static let bad: [(value: Float, kind: NonFiniteValue.Kind)] = [
        (.nan, .nan), (-.nan, .nan), (Float(bitPattern: 0x7FC0_1234), .nan), (.infinity, .positiveInfinity), (-.infinity, .negativeInfinity),
    ]

    /// 512 ordinary values (two rows of 256) with `value` at `index` and a second bad value later.
    static func values(_ value: Float, at index: Int) -> [UInt8] {
        var generator = SeededGenerator(seed: 14)
        var x = (0..<512).map { _ in Float.random(in: -0.1...0.1, using: &generator) }
        x[index] = value
        x[500] = .nan
        return x.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    @Test(arguments: Kernel.allCases)
    func refusesNaNAndInfinityNamingTheFirstElement(kernel: Kernel) {
        for (value, kind) in Self.bad {
            for index in [0, 37, 300] {
                let bytes = Self.values(value, at: index)
                let error = #expect(throws: NonFiniteValue.self) { try bytes.withUnsafeBytes { try kernel.run($0) } }
                #expect(error == NonFiniteValue(index: index, kind: kind), "\(kernel) with \(value) at \(index)")
            }
        }
    }

    @Test(arguments: Kernel.allCases)
    func finiteValuesStillQuantize(kernel: Kernel) throws {
        let bytes = Self.values(0.05, at: 0).enumerated().map { $0.offset / 4 == 500 ? 0 : $0.element }
        try bytes.withUnsafeBytes { try kernel.run($0) }
    }

    /// A block of subnormals makes `1 / d` overflow in Q8_0; that used to trap too.
    @Test func q8_0OnSubnormalsDoesNotTrap() throws {
        let x: [Float] = (0..<32).map { Float(bitPattern: UInt32($0 + 1) * 1000) }
        let bytes = x.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        let out = try bytes.withUnsafeBytes { try Q8_0.quantize($0) }
        #expect(out.count == 34)
    }

    @Test func errorNamesTheTensorAndTheTypeAndKeepsItsCause() {
        let error = NonFiniteValue(index: 123, kind: .nan).error(tensor: "x", target: "Q4_0")
        #expect(error.description == "tensor 'x': element 123 is NaN; quantizing it to Q4_0 would hide it")
        #expect(error.cause as? NonFiniteValue == NonFiniteValue(index: 123, kind: .nan))
    }
}
