import ModelIR

/// How close a candidate must be to its reference.
public struct Tolerance: Sendable, Equatable {
    /// The largest absolute difference allowed in any hidden-state element (checked when set).
    public var maxError: Double?
    /// The smallest cosine similarity allowed for any real token's hidden state (checked when set).
    public var minCosine: Double?

    public init(maxError: Double? = nil, minCosine: Double? = nil) {
        self.maxError = maxError
        self.minCosine = minCosine
    }

    /// The default for a candidate stored mostly as `dtype`: exact-ish for f32, cosine for the rest.
    public static func `default`(for dtype: DType?) -> Tolerance {
        switch dtype {
        case .f16?, .bf16?, .q8_0?, .i8?, .u8?: return Tolerance(minCosine: 0.999)
        case .q4_0?, .q4_1?, .q5_0?, .q5_1?, .q4_K?, .q5_K?, .q6_K?: return Tolerance(minCosine: 0.99)
        default: return Tolerance(maxError: 1e-5)
        }
    }

    public var description: String {
        [maxError.map { "max |error| ≤ \($0)" }, minCosine.map { "cosine ≥ \($0)" }].compactMap { $0 }.joined(separator: ", ")
    }
}

/// The gap between two hidden states.
public struct StateParity: Sendable {
    /// The layer index (0 = embeddings), or nil for the pooler.
    public var layer: Int?
    public var maxAbsError: Double
    public var meanAbsError: Double
    /// The smallest cosine similarity over real (unmasked) tokens.
    public var cosineSimilarity: Double
    public var passed: Bool
}

/// What `verify` reports: every compared layer, the last hidden state, and the verdict.
public struct ParityReport: Sendable {
    public var layers: [StateParity]
    public var last: StateParity
    public var pooler: StateParity?
    public var tolerance: Tolerance
    public var passed: Bool
    public var notes: [String]
}

public enum Parity {
    /// Compares a candidate's hidden states with the reference's, layer i with layer i (a truncated candidate
    /// is compared with the reference's first layers).
    public static func compare(reference: ForwardOutput, candidate: ForwardOutput, inputs: EncoderInputs, tolerance: Tolerance) throws -> ParityReport {
        guard reference.batch == candidate.batch, reference.length == candidate.length, reference.width == candidate.width else {
            throw VerifierError("reference and candidate outputs have different shapes")
        }
        var notes: [String] = []
        let count = min(reference.hiddenStates.count, candidate.hiddenStates.count)
        if candidate.hiddenStates.count < reference.hiddenStates.count {
            notes.append("candidate has \(candidate.hiddenStates.count - 1) layers: compared with the reference's first \(candidate.hiddenStates.count - 1)")
        } else if candidate.hiddenStates.count > reference.hiddenStates.count {
            notes.append("candidate has more layers than the reference: compared the first \(reference.hiddenStates.count - 1)")
        }
        let layers = (0..<count).map { i in
            state(reference.hiddenStates[i], candidate.hiddenStates[i], layer: i, output: reference, inputs: inputs, tolerance: tolerance)
        }
        var pooler: StateParity?
        if count == reference.hiddenStates.count, let r = reference.pooler, let c = candidate.pooler {
            let pooledInputs = try EncoderInputs(inputIds: inputs.inputIds.map { [$0[0]] })
            pooler = state(r, c, layer: nil, output: ForwardOutput(batch: reference.batch, length: 1, width: reference.width,
                                                                      hiddenStates: [], pooler: nil), inputs: pooledInputs, tolerance: tolerance)
        }
        let last = layers[count - 1]
        let passed = layers.allSatisfy(\.passed) && (pooler?.passed ?? true)
        return ParityReport(layers: layers, last: last, pooler: pooler, tolerance: tolerance, passed: passed, notes: notes)
    }

    static func state(_ a: [Float], _ b: [Float], layer: Int?, output: ForwardOutput, inputs: EncoderInputs, tolerance: Tolerance) -> StateParity {
        var maxError = 0.0, sum = 0.0
        for i in a.indices {
            let e = Double(abs(a[i] - b[i]))
            maxError = max(maxError, e)
            sum += e
        }
        var minCosine = 1.0
        let width = output.width
        for batch in 0..<output.batch {
            for t in 0..<output.length where inputs.attentionMask[batch][t] != 0 {
                let row = (batch * output.length + t) * width
                var dot = 0.0, na = 0.0, nb = 0.0
                for i in row..<(row + width) {
                    dot += Double(a[i]) * Double(b[i])
                    na += Double(a[i]) * Double(a[i])
                    nb += Double(b[i]) * Double(b[i])
                }
                let cosine = na == 0 || nb == 0 ? (na == nb ? 1 : 0) : dot / (na.squareRoot() * nb.squareRoot())
                minCosine = min(minCosine, cosine)
            }
        }
        let passed = (tolerance.maxError.map { maxError <= $0 } ?? true) && (tolerance.minCosine.map { minCosine >= $0 } ?? true)
        return StateParity(layer: layer, maxAbsError: maxError, meanAbsError: a.isEmpty ? 0 : sum / Double(a.count),
                           cosineSimilarity: minCosine, passed: passed)
    }
}
