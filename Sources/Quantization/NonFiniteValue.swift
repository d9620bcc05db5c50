import BinaryIO
import CSystemShims
import ModelIR

/// A NaN or infinite weight met by a quantizer.
///
/// No quantized type can hold such a value: the block scale becomes NaN or infinite (ggml's Q8_0 then converts NaN
/// to an integer, which traps in Swift), or the value is clamped to some finite level and silently lost. Every
/// quantizing kernel therefore checks its input first and throws this, so that a broken weight is refused rather
/// than hidden. f16 / bf16 casts are not quantization: they keep NaN and ±Inf as they are.
public struct NonFiniteValue: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the value is.
    public enum Kind: String, Sendable {
        case nan = "NaN"
        case positiveInfinity = "+Inf"
        case negativeInfinity = "-Inf"
    }

    /// The flat (row-major) index of the first non-finite element.
    public var index: Int
    public var kind: Kind

    public init(index: Int, kind: Kind) {
        self.index = index
        self.kind = kind
    }

    public var description: String { "element \(index) is \(kind.rawValue)" }

    /// The first non-finite value among the little-endian f32 values of `source`, if any (`modelport_f32_first_nonfinite`:
    /// the exponent bits of 32 values at a time where the processor has AVX2).
    package static func first(in source: UnsafeRawBufferPointer) -> NonFiniteValue? {
        let count = source.count / 4
        guard count > 0, let base = source.baseAddress else { return nil }
        let i = modelport_f32_first_nonfinite(base, count)
        guard i < count else { return nil }
        let value = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
        return NonFiniteValue(index: i, kind: value.isNaN ? .nan : value > 0 ? .positiveInfinity : .negativeInfinity)
    }

    /// Throws the first non-finite value among the little-endian f32 values of `source`.
    package static func check(_ source: UnsafeRawBufferPointer) throws(NonFiniteValue) {
        if let bad = first(in: source) { throw bad }
    }

    /// The error for tensor `name` being quantized to `target` (a type name as the user spelled it, e.g. `Q4_0`,
    /// `int8`), carrying this value as its cause so that a front end can add its own advice.
    public func error(tensor name: String, target: String) -> ModelError {
        ModelError(location: .tensor(name), "\(self); quantizing it to \(target) would hide it", cause: self)
    }
}
