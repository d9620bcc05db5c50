import Testing
import Verifier

@Suite struct TokenParityTests {
    @Test func everyRealTokenOfTheLastStateIsMeasured() throws {
        // Two sequences of 4 tokens, width 2; the second sequence's last token is padding. Only token (1, 2) differs.
        let mask = [[1, 1, 1, 1], [1, 1, 1, 0]]
        let reference = (0..<16).map { Float($0 % 5) + 1 }
        var candidate = reference
        candidate[(1 * 4 + 2) * 2] += 0.5
        candidate[(1 * 4 + 3) * 2] += 9  // padding: not a real token
        let inputs = try EncoderInputs(inputIds: [[1, 2, 3, 4], [1, 2, 3, 0]], attentionMask: mask)
        let report = try Parity.compare(
            reference: ForwardOutput(batch: 2, length: 4, width: 2, hiddenStates: [reference, reference], pooler: nil, rowMask: mask),
            candidate: ForwardOutput(batch: 2, length: 4, width: 2, hiddenStates: [reference, candidate], pooler: nil, rowMask: mask),
            inputs: inputs, tolerance: Tolerance(minCosine: 0.99))
        #expect(report.tokens.map { [$0.sequence, $0.position] } == [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0], [1, 1], [1, 2]])
        let changed = try #require(report.tokens.first { $0.maxAbsError > 0 })
        #expect(changed.sequence == 1 && changed.position == 2 && changed.maxAbsError == 0.5)
        #expect(report.tokens.filter { $0.maxAbsError > 0 }.count == 1)
        // The layer's smallest cosine is the smallest token cosine.
        #expect(report.last.cosineSimilarity == report.tokens.map(\.cosineSimilarity).min())
        #expect(changed.cosineSimilarity < 1)
    }
}
