import BinaryIO
import ModelIR
import Synchronization

/// Paths into the committed fixtures of `Samples/`.
public enum Samples {
    /// The repository root, found from this file's location.
    public static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = splitPath(path).folder }
        return path
    }()

    /// `Samples/<relative>`.
    public static func path(_ relative: String) -> String { root + "/Samples/" + relative }

    /// The bytes of a fixture file.
    public static func bytes(_ relative: String) throws -> [UInt8] {
        try MappedFile(path: path(relative)).withBytes { Array($0) }
    }
}

/// A fresh folder under /tmp, removed by `remove()`.
public struct TemporaryFolder {
    public let path: String

    public init() {
        var template = Array("/tmp/modelport-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    /// The names in the folder, hidden ones included, sorted.
    public func contents(_ sub: String = "") -> [String] {
        folderEntries(sub.isEmpty ? path : path + "/" + sub) ?? []
    }

    public func remove() { removeTree(path) }
}

/// The values `Samples/generate.py` puts in every reference tensor, element `i`:
/// floats `(i % 17) * 0.25 - 2`, signed `(i % 200) - 100`, unsigned `i % 200`, bool `i % 3 == 0`.
public enum ReferencePattern {
    public static func bytes(dtype: DType, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count * dtype.blockBytes)
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        for i in 0..<count {
            let f = Float(i % 17) * 0.25 - 2
            let signed = i % 200 - 100
            let unsigned = i % 200
            switch dtype {
            case .f64: append(Double(f).bitPattern)
            case .f32: append(f.bitPattern)
            case .f16: append(FloatBits.halfBits(fromFloatBits: f.bitPattern))
            case .bf16: append(FloatBits.bfloat16Bits(fromFloatBits: f.bitPattern))
            case .f8E4M3: out.append(f8E4M3(f))
            case .f8E5M2: out.append(UInt8(FloatBits.halfBits(fromFloatBits: f.bitPattern) >> 8))
            case .i64: append(Int64(signed))
            case .i32: append(Int32(signed))
            case .i16: append(Int16(signed))
            case .i8: append(Int8(signed))
            case .u64: append(UInt64(unsigned))
            case .u32: append(UInt32(unsigned))
            case .u16: append(UInt16(unsigned))
            case .u8: append(UInt8(unsigned))
            case .bool: out.append(i % 3 == 0 ? 1 : 0)
            default: preconditionFailure("no pattern for \(dtype)")
            }
        }
        return out
    }

    /// e4m3fn encoding of the pattern's values (multiples of 0.25 in [-2, 2], all exact).
    static func f8E4M3(_ f: Float) -> UInt8 {
        if f == 0 { return f.sign == .minus ? 0x80 : 0 }
        let sign: UInt8 = f < 0 ? 0x80 : 0
        let bits = abs(f).bitPattern
        let exponent = Int(bits >> 23) - 127 + 7
        let mantissa = UInt8((bits >> 20) & 0x7)
        return sign | UInt8(exponent << 3) | mantissa
    }
}

/// A tiny seeded generator (SplitMix64) so property tests print and replay their seed.
public struct SeededGenerator: RandomNumberGenerator {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Tensor data that counts how often its bytes were computed: a test that says "nothing is read until pulled"
/// checks the count, not a proxy such as `isMapped`.
public final class PullCounter: Sendable {
    private let count = Atomic<Int>(0)

    public init() {}

    /// How many times any producer made by this counter has run.
    public var pulls: Int { count.load(ordering: .acquiring) }

    /// A producer of `bytes` that counts each run.
    public func producer(_ bytes: [UInt8]) -> TensorData {
        .producer { [self] in
            count.add(1, ordering: .acquiringAndReleasing)
            return TensorBuffer(bytes)
        }
    }

    /// A copy of `tensor` whose bytes are produced (from its own, read now) and counted.
    public func counting(_ tensor: Tensor) throws -> Tensor {
        Tensor(info: tensor.info, data: producer(try tensor.withBytes { Array($0) }))
    }
}

/// How `model` differs from `expected`, name for name and byte for byte: a missing or extra name, another dtype or
/// shape, other bytes. Empty when every tensor is the same.
public func tensorMismatches(_ model: Model, expected: [Tensor]) throws -> [String] {
    var problems: [String] = []
    let names = Set(expected.map(\.name))
    problems += model.tensors.map(\.name).filter { !names.contains($0) }.map { "\($0): not in the reference" }
    for wanted in expected {
        guard let tensor = model[wanted.name] else {
            problems.append("\(wanted.name): missing")
            continue
        }
        if tensor.info != wanted.info { problems.append("\(wanted.name): \(tensor.info) instead of \(wanted.info)") }
        if try tensor.withBytes({ Array($0) }) != (try wanted.withBytes { Array($0) }) { problems.append("\(wanted.name): bytes differ") }
    }
    return problems
}
