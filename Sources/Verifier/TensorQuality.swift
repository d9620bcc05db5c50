import ModelIR

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
    public static func measure(name: String, reference: Tensor, candidate: Tensor) throws -> TensorQuality {
        let a = try Weights.floats(of: reference), b = try Weights.floats(of: candidate)
        guard a.count == b.count else { throw VerifierError("tensor '\(name)': \(a.count) vs \(b.count) elements") }
        var squared = 0.0, worst = 0.0, dot = 0.0, na = 0.0, nb = 0.0
        for i in a.indices {
            let x = Double(a[i]), y = Double(b[i]), e = abs(x - y)
            squared += e * e
            worst = max(worst, e)
            dot += x * y
            na += x * x
            nb += y * y
        }
        let cosine = na == 0 || nb == 0 ? (na == nb ? 1 : 0) : dot / (na.squareRoot() * nb.squareRoot())
        return TensorQuality(name: name, dtype: candidate.dtype, rmsError: (squared / Double(max(a.count, 1))).squareRoot(),
                             maxError: worst, cosineSimilarity: cosine)
    }
}
