import ModelIR
import Quantization

/// How far a converted tensor is from its source, both read back as f32.
public struct TensorQuality: Sendable {
    public var name: String
    public var dtype: DType
    public var rmsError: Double
    public var maxError: Double
    public var cosineSimilarity: Double

    public init(name: String, dtype: DType, rmsError: Double, maxError: Double, cosineSimilarity: Double) {
        self.name = name
        self.dtype = dtype
        self.rmsError = rmsError
        self.maxError = maxError
        self.cosineSimilarity = cosineSimilarity
    }

    /// Compares `candidate` (any type the verifier reads, quantized included) with `reference`.
    ///
    /// Both are decoded 2^18 values at a time (a whole number of blocks of every type), so the memory it takes
    /// is a few MB whatever the tensor's size; the sums run in element order, as over whole arrays.
    public static func measure(name: String, reference: Tensor, candidate: Tensor) throws -> TensorQuality {
        var sums = Sums()
        let chunk = 1 << 18
        if let count = reference.info.elementCount, count == candidate.info.elementCount, count > chunk,
           reference.info.byteCount != nil, candidate.info.byteCount != nil,
           FloatValues.decodes(reference.dtype), FloatValues.decodes(candidate.dtype) {
            try reference.withBytes { a in
                try candidate.withBytes { b in
                    for start in stride(from: 0, to: count, by: chunk) {
                        let n = min(chunk, count - start)
                        guard let x = decode(a, reference.dtype, start, n), let y = decode(b, candidate.dtype, start, n) else {
                            throw VerifierError("tensor '\(name)': elements \(start)..<\(start + n) cannot be decoded")
                        }
                        sums.add(x, y)
                    }
                }
            }
            return sums.quality(name: name, dtype: candidate.dtype, count: count)
        }
        let a = try Weights.floats(of: reference), b = try Weights.floats(of: candidate)
        guard a.count == b.count else { throw VerifierError("tensor '\(name)': \(a.count) vs \(b.count) elements") }
        sums.add(a, b)
        return sums.quality(name: name, dtype: candidate.dtype, count: a.count)
    }

    /// Elements `start ..< start + count` of `bytes` holding `dtype`, as f32 (whole blocks: `start` and `count` are
    /// multiples of every block size, or `count` runs to the end).
    private static func decode(_ bytes: UnsafeRawBufferPointer, _ dtype: DType, _ start: Int, _ count: Int) -> [Float]? {
        guard let from = dtype.byteCount(elements: start), let length = dtype.byteCount(elements: count),
              from + length <= bytes.count else { return nil }
        return FloatValues.decode(UnsafeRawBufferPointer(rebasing: bytes[from..<(from + length)]), from: dtype)
    }

    /// Running sums of the comparison, in element order.
    private struct Sums {
        var squared = 0.0, worst = 0.0, dot = 0.0, na = 0.0, nb = 0.0

        mutating func add(_ a: [Float], _ b: [Float]) {
            for i in a.indices {
                let x = Double(a[i]), y = Double(b[i]), e = abs(x - y)
                squared += e * e
                worst = max(worst, e)
                dot += x * y
                na += x * x
                nb += y * y
            }
        }

        func quality(name: String, dtype: DType, count: Int) -> TensorQuality {
            let cosine = na == 0 || nb == 0 ? (na == nb ? 1 : 0) : dot / (na.squareRoot() * nb.squareRoot())
            return TensorQuality(name: name, dtype: dtype, rmsError: (squared / Double(max(count, 1))).squareRoot(),
                                 maxError: worst, cosineSimilarity: cosine)
        }
    }
}
