import Foundation
import ModelIR
import Reports
import Testing
import Verifier

/// Deterministic values in [-1, 1) (a 64-bit LCG; the seed is in each test).
struct Noise {
    var state: UInt64
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 1_000_000) / 1_000_000
    }
}

/// A BERT-base-shaped comparison: 12 layers (+ embeddings), `candidates` candidates with growing noise, real
/// `ParityReport`s from `Parity.compare`, ~200 quantized tensors each, and a text batch of `length` tokens.
func syntheticReport(candidates: Int = 3, layers: Int = 12, length: Int = 16, width: Int = 8, passing: Bool = true) throws -> ComparisonReport {
    var noise = Noise(state: 42)
    let batch = 2
    let states = (0...layers).map { _ in (0..<(batch * length * width)).map { _ in noise.next() } }
    let pooler = (0..<(batch * width)).map { _ in noise.next() }
    let mask = [Array(repeating: 1, count: length), (0..<length).map { $0 < length - 3 ? 1 : 0 }]
    let inputs = try EncoderInputs(inputIds: (0..<batch).map { s in (0..<length).map { 5 + s + $0 } }, attentionMask: mask)
    let reference = ForwardOutput(batch: batch, length: length, width: width, hiddenStates: states, pooler: pooler, rowMask: mask)
    let types: [DType] = [.f16, .q8_0, .q4_0, .q4_K]
    let kinds = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                 "intermediate.dense", "output.dense"]
    let results = try (0..<candidates).map { c -> CandidateResult in
        let scale = Float(1e-4) * [1, 10, 100, 1000][c]
        var states = states
        for (i, _) in states.enumerated() { for j in states[i].indices { states[i][j] += scale * Float(i + 1) * noise.next() } }
        let candidate = ForwardOutput(batch: batch, length: length, width: width, hiddenStates: states,
                                      pooler: pooler.map { $0 + scale * noise.next() }, rowMask: mask)
        let parity = try Parity.compare(reference: reference, candidate: candidate, inputs: inputs,
                                        tolerance: Tolerance(minCosine: passing ? 0.9 : 0.9999999))
        var tensors: [TensorRow] = [TensorRow(quality: TensorQuality(name: "embeddings.word_embeddings.weight", dtype: types[c],
                                                                     rmsError: Double(scale), maxError: Double(scale) * 4,
                                                                     cosineSimilarity: 1 - Double(scale)), bitsPerWeight: 8.5)]
        for layer in 0..<layers {
            for (k, kind) in kinds.enumerated() {
                for suffix in ["weight", "bias"] {
                    let rms = Double(scale) * (1 + Double(layer * 6 + k) / 100)
                    tensors.append(TensorRow(quality: TensorQuality(name: "encoder.layer.\(layer).\(kind).\(suffix)", dtype: types[c],
                                                                    rmsError: rms, maxError: rms * 3, cosineSimilarity: 1 - rms),
                                             bitsPerWeight: 4.5))
                }
            }
            for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
                tensors.append(TensorRow(quality: TensorQuality(name: "encoder.layer.\(layer).\(norm).weight", dtype: .f32, rmsError: 0,
                                                                maxError: 0, cosineSimilarity: 1), bitsPerWeight: 32))
            }
        }
        let facts = ModelFacts(path: "out/bert-\(types[c].rawValue).gguf", format: "GGUF (bert)", architecture: "bert", layers: layers,
                               hiddenSize: 768, tensorCount: 197, dtypes: [DTypeCount(dtype: types[c].rawValue, count: 73), DTypeCount(dtype: "f32", count: 124)],
                               parameters: 109_482_240, bytes: 440_000_000 / (c + 2))
        return CandidateResult(facts: facts, parity: parity, tensors: tensors)
    }
    let tokens = (0..<batch).map { s in (0..<length).map { $0 == 0 ? "[CLS]" : $0 % 4 == 3 ? "##ing" : "word\(s)\($0)" } }
    let referenceFacts = ModelFacts(path: "models/bert-base", format: "Hugging Face folder (safetensors)", architecture: "bert", layers: layers,
                                    hiddenSize: 768, tensorCount: 199, dtypes: [DTypeCount(dtype: "f32", count: 199)], parameters: 109_482_240,
                                    bytes: 437_929_000,
                                    dropped: [DroppedTensor(name: "cls.predictions.bias", kind: .head, reason: "pre-training head", byteCount: 122_088)])
    return ComparisonReport(kind: .verification, reference: referenceFacts, candidates: results, inputs: "2 sequences × \(length) tokens",
                            tokens: tokens, generator: "modelport test")
}

/// The `data-value` numbers of the cells of each body row `<tr>` of the table whose attributes contain `marker`.
func rows(of html: String, table marker: String) throws -> [(attributes: String, values: [Double])] {
    guard let start = html.range(of: marker), let body = html.range(of: "<tbody>", range: start.upperBound..<html.endIndex),
          let end = html.range(of: "</table>", range: body.upperBound..<html.endIndex) else { return [] }
    let table = html[body.upperBound..<end.lowerBound]
    let row = try Regex(#"<tr([^>]*)>(.*?)</tr>"#)
    let value = try Regex(#"data-value="([^"]*)""#)
    return table.matches(of: row).compactMap { match in
        guard let attributes = match.output[1].substring, let cells = match.output[2].substring else { return nil }
        return (String(attributes), cells.matches(of: value).compactMap { $0.output[1].substring.flatMap { Double(String($0)) } })
    }
}

@Suite struct ReportPageTests {
    @Test func theNumbersInThePageAreTheReportsNumbers() throws {
        let report = try syntheticReport()
        let html = ReportPage.html(report)
        for candidate in report.candidates {
            let parity = try #require(candidate.parity)
            let layers = try rows(of: html, table: "<table class=\"layers\" data-candidate=\"\(candidate.facts.path)\"")
            let states = parity.layers + parity.heads
            #expect(layers.count == states.count)
            for (row, state) in zip(layers, states) {
                #expect(row.attributes.contains("data-state=\"\(state.name)\""))
                #expect(row.values == [state.maxAbsError, state.meanAbsError, state.cosineSimilarity])
            }
            // The tensor table lists every row once, worst (lowest cosine) first, with its exact numbers.
            let tensors = try rows(of: html, table: "<table class=\"tensors\" data-candidate=\"\(candidate.facts.path)\"")
            #expect(tensors.count == candidate.tensors.count)
            let cosines = tensors.map { $0.values.last ?? .nan }
            #expect(cosines == cosines.sorted())
            let byName = Dictionary(uniqueKeysWithValues: candidate.tensors.map { ($0.quality.name, $0) })
            for row in tensors {
                let name = try #require(row.attributes.split(separator: "\"").dropFirst().first.map(String.init))
                let q = try #require(byName[name]).quality
                #expect(row.values == [byName[name]!.bitsPerWeight!, q.rmsError, q.maxError, q.cosineSimilarity])
            }
        }
    }

    @Test func tokensCarryTheirParityAndTheWorstAreMarked() throws {
        let report = try syntheticReport(candidates: 1)
        let html = ReportPage.html(report)
        let parity = try #require(report.candidates[0].parity)
        let span = try Regex(#"<span class="tok([^"]*)"[^>]*data-position="(\d+)" data-cosine="([^"]*)" data-max-error="([^"]*)""#)
        let spans = html.matches(of: span)
        #expect(spans.count == parity.tokens.count)
        #expect(parity.tokens.count == 16 + 13)  // the second sequence's last 3 tokens are padding
        for (match, token) in zip(spans, parity.tokens) {
            #expect(match.output[2].substring.flatMap { Int(String($0)) } == token.position)
            #expect(match.output[3].substring.flatMap { Double(String($0)) } == token.cosineSimilarity)
            #expect(match.output[4].substring.flatMap { Double(String($0)) } == token.maxAbsError)
        }
        let worst = parity.tokens.indices.sorted { parity.tokens[$0].cosineSimilarity < parity.tokens[$1].cosineSimilarity }.prefix(5)
        let marked = spans.enumerated().filter { $0.element.output[1].substring?.contains("worst") == true }.map(\.offset)
        #expect(Set(marked) == Set(worst))
        #expect(html.contains(">ing<"))  // a ## piece joins its word without the marker
    }

    @Test func theBannerSaysPassOrFailWithTheTolerances() throws {
        let pass = ReportPage.html(try syntheticReport())
        #expect(pass.contains("data-passed=\"true\"") && pass.contains(">PASS<") && pass.contains("cosine ≥ 0.9"))
        let fail = ReportPage.html(try syntheticReport(passing: false))
        #expect(fail.contains("data-passed=\"false\"") && fail.contains(">FAIL<") && fail.contains("exceed the tolerance"))
    }

    @Test func thePageIsSelfContained() throws {
        let html = ReportPage.html(try syntheticReport())
        for forbidden in ["<script", "http:", "https:", "src=", "url(", "@import", "@font-face", "<link", "<img", "<iframe"] {
            #expect(!html.lowercased().contains(forbidden), "the page contains \(forbidden)")
        }
        #expect(html.contains("prefers-color-scheme: dark"))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
    }

    @Test func aBERTBaseReportWithThreeCandidatesStaysUnderOneMegabyte() throws {
        let html = ReportPage.html(try syntheticReport(candidates: 3, layers: 12, length: 128))
        #expect(html.utf8.count < 1_000_000, "\(html.utf8.count) bytes")
        #expect(html.utf8.count > 50_000)  // the content is really there
    }

    @Test func everySectionIsThere() throws {
        let html = ReportPage.html(try syntheticReport())
        for id in ["verdict", "summary", "layers", "heads", "tokens", "tensors", "models"] {
            #expect(html.contains("id=\"\(id)\""), "no section \(id)")
        }
        // Several candidates: the size-against-error scatter, one marker per candidate.
        let sizes = ReportPage.sizePlots(try syntheticReport().candidates)
        #expect(sizes.count == 2 && sizes.allSatisfy { $0.series.count == 3 && $0.x.style == .bytes })
        // Three tolerance-free plots per layer metric, one series per candidate with a point per layer.
        let layers = ReportPage.layerPlots(try syntheticReport().candidates)
        #expect(layers.map { $0.series.first?.points.count } == [13, 13, 13])
    }

    @Test func headOutputsFillTheirSlotOrSayWhyNot() throws {
        var report = try syntheticReport(candidates: 1)
        let html = ReportPage.html(report)
        let heads = try rows(of: html, table: "<table class=\"heads\"")
        let pooler = try #require(report.candidates[0].parity?.heads.first)
        #expect(heads.count == 1 && heads[0].attributes.contains("data-head=\"pooler_output\""))
        #expect(heads[0].values == [pooler.maxAbsError, pooler.meanAbsError, pooler.cosineSimilarity])
        // A new head measure (label agreement) is one more metric, shown as its own column.
        report.candidates[0].heads[0].metrics.append(.init(label: "label agreement", value: 0.95, text: "95%"))
        #expect(ReportPage.html(report).contains("<th class=\"num\">label agreement</th>"))
        report.candidates[0].heads = []
        #expect(ReportPage.html(report).contains("No head outputs were compared"))
    }

    @Test func tensorPlotsGroupByLayerAndKind() throws {
        let candidate = try syntheticReport(candidates: 1).candidates[0]
        let plots = ReportPage.tensorPlots(candidate)
        #expect(plots.count == 2)
        let layout = plots[0].layout()
        let names = layout.series.map(\.series.name)
        #expect(names.first == "attn_q" && names.contains("token_embd") && !names.contains { $0.hasSuffix("bias") })
        #expect(names.count <= 8)
        let q = try #require(layout.series.first { $0.series.name == "attn_q" })
        #expect(q.points.map(\.point.x) == (0..<12).map(Double.init))
        let embedding = try #require(layout.series.first { $0.series.name == "token_embd" }?.points.first)
        #expect(embedding.point.x == -1 && layout.x.ticks.first?.label == "emb")
    }

    @Test func textFromModelsIsEscaped() throws {
        var report = try syntheticReport(candidates: 1)
        report.candidates[0].facts.path = "out/<script>alert(1)</script>\".gguf"
        report.tokens[0][1] = "<b>"
        let html = ReportPage.html(report)
        #expect(!html.contains("<script>") && html.contains("&lt;script&gt;"))
        #expect(html.contains("&lt;b&gt;"))
    }
}
