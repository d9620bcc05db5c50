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

    /// The default for a candidate stored mostly as `dtype`: exact-ish for f32, cosine for the rest (`i8` is
    /// per-channel int8 weights, `u32` MLX-packed weights).
    public static func `default`(for dtype: DType?) -> Tolerance {
        switch dtype {
        case .f16?, .bf16?, .q8_0?, .i8?, .u8?: return Tolerance(minCosine: 0.999)
        case .q4_0?, .q4_1?, .q5_0?, .q5_1?, .q4_K?, .q5_K?, .q6_K?, .u32?: return Tolerance(minCosine: 0.99)
        default: return Tolerance(maxError: 1e-5)
        }
    }

    public var description: String {
        [maxError.map { "max |error| ≤ \($0)" }, minCosine.map { "cosine ≥ \($0)" }].compactMap { $0 }.joined(separator: ", ")
    }
}

/// The gap between two hidden states (or two head outputs).
public struct StateParity: Sendable {
    /// The layer index (0 = embeddings), or nil for a head output.
    public var layer: Int?
    /// `embeddings`, `layer N`, `pooler_output` or `logits`.
    public var name: String
    public var maxAbsError: Double
    public var meanAbsError: Double
    /// The smallest cosine similarity over real (unmasked) tokens.
    public var cosineSimilarity: Double
    public var passed: Bool
}

/// How often two models' head outputs lead to the same decision: the predicted label (per input, or per real token
/// for a token classifier) or the best answer span.
public struct DecisionAgreement: Sendable {
    /// `labels` (per input), `token labels`, `best spans`.
    public var what: String
    public var agreeing: Int
    public var total: Int

    public var description: String { "\(what) agree on \(agreeing)/\(total) \(what == "token labels" ? "tokens" : "inputs")" }
}

/// What `verify` reports: every compared layer, the last hidden state, and the verdict.
public struct ParityReport: Sendable {
    public var layers: [StateParity]
    public var last: StateParity
    /// Head outputs compared after the hidden states: `pooler_output`, `logits`, `start_logits`, `end_logits`,
    /// `prediction_logits`, `sentence_embedding`.
    public var heads: [StateParity]
    /// Whether the heads decide alike (classifiers' labels, QA's best spans).
    public var agreements: [DecisionAgreement] = []
    public var tolerance: Tolerance
    public var passed: Bool
    public var notes: [String]
    /// Every real token's gap in the last compared hidden state, in batch order (for reports that show which
    /// tokens diverge most).
    public var tokens: [TokenParity] = []
}

/// One real token's gap in a hidden state: the largest absolute difference over its features and the cosine
/// similarity of its two vectors.
public struct TokenParity: Sendable, Equatable {
    /// The sequence in the batch and the token's position in it.
    public var sequence: Int
    public var position: Int
    public var maxAbsError: Double
    public var cosineSimilarity: Double
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
        let rows = reference.rowMask ?? Array(repeating: Array(repeating: 1, count: reference.length), count: reference.batch)
        let layers = (0..<count).map { i in
            state(reference.hiddenStates[i], candidate.hiddenStates[i], layer: i, name: i == 0 ? "embeddings" : "layer \(i)", batch: reference.batch, length: reference.length,
                  width: reference.width, rows: rows, tolerance: tolerance)
        }
        var heads: [StateParity] = []
        if count == reference.hiddenStates.count, let r = reference.pooler, let c = candidate.pooler {
            heads.append(state(r, c, layer: nil, name: "pooler_output", batch: reference.batch, length: 1, width: reference.width,
                               rows: Array(repeating: [1], count: reference.batch), tolerance: tolerance))
        }
        if count == reference.hiddenStates.count, let r = reference.logits, let c = candidate.logits, r.count == c.count {
            heads.append(state(r, c, layer: nil, name: "logits", batch: reference.batch, length: reference.logitRows,
                               width: reference.logitWidth,
                               rows: Array(repeating: Array(repeating: 1, count: reference.logitRows), count: reference.batch),
                               tolerance: tolerance))
        }
        var agreements: [DecisionAgreement] = []
        if count == reference.hiddenStates.count {
            for r in reference.heads {
                guard let c = candidate.heads.first(where: { $0.name == r.name }), c.shape == r.shape else {
                    notes.append("the candidate has no \(r.name) of the reference's shape: not compared")
                    continue
                }
                let headRows = r.perToken ? rows : Array(repeating: [1], count: reference.batch)
                heads.append(state(r.values, c.values, layer: nil, name: r.name, batch: reference.batch, length: r.perToken ? reference.length : 1,
                                   width: r.rowWidth, rows: headRows, tolerance: tolerance))
            }
            agreements = decisions(reference.heads, candidate.heads, mask: inputs.attentionMask)
        } else if !reference.heads.isEmpty {
            notes.append("head outputs are not compared with a truncated candidate (its head needs fine-tuning again)")
        }
        let last = layers[count - 1]
        let passed = layers.allSatisfy(\.passed) && heads.allSatisfy(\.passed)
        var report = ParityReport(layers: layers, last: last, heads: heads, agreements: agreements, tolerance: tolerance, passed: passed, notes: notes)
        report.tokens = tokens(reference.hiddenStates[count - 1], candidate.hiddenStates[count - 1], batch: reference.batch,
                               length: reference.length, width: reference.width, rows: rows)
        return report
    }

    static func tokens(_ a: [Float], _ b: [Float], batch: Int, length: Int, width: Int, rows: [[Int]]) -> [TokenParity] {
        var tokens: [TokenParity] = []
        for sequence in 0..<batch {
            for t in 0..<length where rows[sequence][t] != 0 {
                let row = (sequence * length + t) * width
                var worst = 0.0, dot = 0.0, na = 0.0, nb = 0.0
                for i in row..<(row + width) {
                    let x = Double(a[i]), y = Double(b[i])
                    worst = max(worst, abs(x - y))
                    dot += x * y
                    na += x * x
                    nb += y * y
                }
                let cosine = na == 0 || nb == 0 ? (na == nb ? 1 : 0) : dot / (na.squareRoot() * nb.squareRoot())
                tokens.append(TokenParity(sequence: sequence, position: t, maxAbsError: worst, cosineSimilarity: cosine))
            }
        }
        return tokens
    }

    static func argmax(_ row: ArraySlice<Float>) -> Int { row.indices.max { row[$0] < row[$1] }.map { $0 - row.startIndex } ?? 0 }

    /// The best answer span of one sequence: the (start, end) over real tokens with start ≤ end < start + 30 that
    /// maximizes start_logit + end_logit (the search of transformers' question-answering pipeline).
    static func bestSpan(start: ArraySlice<Float>, end: ArraySlice<Float>, mask: [Int]) -> (Int, Int) {
        var best = (0, 0), score = -Float.infinity
        let real = mask.indices.filter { mask[$0] != 0 }
        for s in real {
            for e in real where e >= s && e < s + 30 {
                let value = start[start.startIndex + s] + end[end.startIndex + e]
                if value > score { score = value; best = (s, e) }
            }
        }
        return best
    }

    static func decisions(_ reference: [HeadOutput], _ candidate: [HeadOutput], mask: [[Int]]) -> [DecisionAgreement] {
        var out: [DecisionAgreement] = []
        func pair(_ name: String) -> (HeadOutput, HeadOutput)? {
            guard let r = reference.first(where: { $0.name == name }), let c = candidate.first(where: { $0.name == name }), r.shape == c.shape else { return nil }
            return (r, c)
        }
        if let (r, c) = pair("logits"), let width = r.shape.last, width > 1 {
            var agree = 0, total = 0
            let batch = r.shape[0], length = r.perToken ? r.shape[1] : 1
            for b in 0..<batch {
                for t in 0..<length where !r.perToken || mask[b][t] != 0 {
                    let row = ((b * length + t) * width)..<((b * length + t + 1) * width)
                    total += 1
                    if argmax(r.values[row]) == argmax(c.values[row]) { agree += 1 }
                }
            }
            out.append(DecisionAgreement(what: r.perToken ? "token labels" : "predicted labels", agreeing: agree, total: total))
        }
        if let (rs, cs) = pair("start_logits"), let (re, ce) = pair("end_logits"), rs.shape.count == 2 {
            let batch = rs.shape[0], length = rs.shape[1]
            var agree = 0
            for b in 0..<batch {
                let row = (b * length)..<((b + 1) * length)
                if bestSpan(start: rs.values[row], end: re.values[row], mask: mask[b]) == bestSpan(start: cs.values[row], end: ce.values[row], mask: mask[b]) { agree += 1 }
            }
            out.append(DecisionAgreement(what: "best spans", agreeing: agree, total: batch))
        }
        return out
    }

    static func state(_ a: [Float], _ b: [Float], layer: Int?, name: String, batch: Int, length: Int, width: Int, rows: [[Int]],
                      tolerance: Tolerance) -> StateParity {
        var maxError = 0.0, sum = 0.0
        var nonFinite = false
        for i in a.indices {
            let e = Double(abs(a[i] - b[i]))
            // NaN or infinity in either output (Swift's max would drop a NaN) is a failure, never a pass.
            if !e.isFinite || !a[i].isFinite || !b[i].isFinite { nonFinite = true }
            maxError = max(maxError, e)
            sum += e
        }
        let cosines = tokens(a, b, batch: batch, length: length, width: width, rows: rows).map(\.cosineSimilarity)
        if cosines.contains(where: { !$0.isFinite }) { nonFinite = true }
        var minCosine = cosines.min() ?? 1
        if nonFinite {
            maxError = .infinity
            sum = .infinity
            minCosine = .nan
        }
        let passed = !nonFinite && (tolerance.maxError.map { maxError <= $0 } ?? true) && (tolerance.minCosine.map { minCosine >= $0 } ?? true)
        return StateParity(layer: layer, name: name, maxAbsError: maxError, meanAbsError: a.isEmpty ? 0 : sum / Double(a.count),
                           cosineSimilarity: minCosine, passed: passed)
    }
}
