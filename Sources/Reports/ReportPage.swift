import BinaryIO
import Verifier

/// The HTML page of a `ComparisonReport`: one self-contained file (inline CSS and SVG, no scripts, no fonts or
/// images from anywhere else) that reads the same in light and dark mode.
public enum ReportPage {
    /// The whole page.
    public static func html(_ report: ComparisonReport) -> String {
        let title = report.kind == .verification ? "Verification report" : "Conversion quality report"
        var body = header(report, title: title)
        body += banner(report)
        body += summary(report)
        body += layers(report)
        body += heads(report)
        if !report.tokens.isEmpty { body += tokens(report) }
        body += tensors(report)
        body += models(report)
        body += "<footer>Written by \(HTML.escape(report.generator)). Errors compare every hidden state of the candidate with the "
            + "reference's on the same inputs: max and mean absolute error over all elements, and the smallest cosine similarity "
            + "of any real token's vector. Hover a point for its value.</footer>"
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <title>\(HTML.escape(title + ": " + report.candidates.map(\.label).joined(separator: ", ")))</title>
        <style>
        \(Stylesheet.css)
        </style></head>
        <body><main>
        \(body)
        </main></body></html>

        """
    }

    // MARK: - Sections

    static func header(_ report: ComparisonReport, title: String) -> String {
        let conversion = report.kind == .conversion
        let candidates = conversion ? "output" : report.candidates.count == 1 ? "candidate" : "candidates"
        return "<header><h1>\(title)</h1><dl class=\"sub\">"
            + "<dt>\(conversion ? "source" : "reference")</dt><dd><code>\(HTML.escape(report.reference.path))</code></dd>"
            + "<dt>\(candidates)</dt><dd>" + report.candidates.map { "<code>\(HTML.escape($0.facts.path))</code>" }.joined(separator: " ") + "</dd>"
            + "<dt>inputs</dt><dd>\(HTML.escape(report.inputs))</dd></dl></header>"
    }

    static func banner(_ report: ComparisonReport) -> String {
        let failed = report.candidates.filter { !$0.passed }
        let headline: String
        if report.candidates.count == 1 {
            let c = report.candidates[0]
            headline = c.parity == nil ? "No end-to-end check was run."
                : c.passed ? "Every layer is within tolerance." : "Some layers exceed the tolerance."
        } else {
            headline = failed.isEmpty ? "All \(report.candidates.count) candidates are within tolerance."
                : "\(failed.count) of \(report.candidates.count) candidates exceed the tolerance."
        }
        let items = report.candidates.map { c -> String in
            let tolerance = c.parity.map { "tolerance " + HTML.escape($0.tolerance.description) } ?? "not checked"
            return "<li>\(badge(c.passed)) <code>\(HTML.escape(c.label))</code>: \(tolerance)"
                + (c.parity.map { "; last hidden state min cosine <span class=\"mono\">\(ReportFormat.cosine($0.last.cosineSimilarity))</span>, "
                    + "max |error| <span class=\"mono\">\(ReportFormat.error($0.last.maxAbsError))</span>" } ?? "")
                + "</li>"
        }.joined()
        // Nothing measured (convert --no-quality) is neither a pass nor a failure.
        let unchecked = report.candidates.allSatisfy { $0.parity == nil }
        let (style, verdict) = unchecked ? ("none", "NOT CHECKED") : report.passed ? ("pass", "PASS") : ("fail", "FAIL")
        return "<section class=\"banner \(style)\" id=\"verdict\" data-passed=\"\(report.passed)\">"
            + "<div class=\"verdict\">\(verdict)</div><div><strong>\(headline)</strong><ul>\(items)</ul></div></section>"
    }

    static func badge(_ passed: Bool) -> String {
        passed ? "<span class=\"badge ok\">pass</span>" : "<span class=\"badge bad\">fail</span>"
    }

    static func summary(_ report: ComparisonReport) -> String {
        var out = "<section id=\"summary\"><h2>\(report.candidates.count > 1 ? "Candidates" : "Summary")</h2>"
        out += "<table class=\"candidates\"><thead><tr><th>candidate</th><th>stored as</th><th class=\"num\">tensor bytes</th>"
            + "<th class=\"num\">last max |error|</th><th class=\"num\">last mean |error|</th><th class=\"num\">last min cosine</th>"
            + "<th class=\"num\">worst layer cosine</th><th></th></tr></thead><tbody>"
        for c in report.candidates {
            out += "<tr data-candidate=\"\(HTML.escape(c.facts.path))\"><td><code>\(HTML.escape(c.label))</code></td>"
                + "<td>\(HTML.escape(storedAs(c.facts)))</td>"
                + (c.facts.bytes.map { HTML.number(Double($0), ReportFormat.bytes($0)) } ?? "<td></td>")
            if let p = c.parity {
                let worst = p.layers.min { $0.cosineSimilarity < $1.cosineSimilarity } ?? p.last
                out += HTML.number(p.last.maxAbsError, ReportFormat.error(p.last.maxAbsError))
                    + HTML.number(p.last.meanAbsError, ReportFormat.error(p.last.meanAbsError))
                    + HTML.number(p.last.cosineSimilarity, ReportFormat.cosine(p.last.cosineSimilarity))
                    + HTML.number(worst.cosineSimilarity, ReportFormat.cosine(worst.cosineSimilarity) + " (\(worst.name))")
            } else {
                out += "<td colspan=\"4\">no end-to-end check</td>"
            }
            out += "<td>\(badge(c.passed))</td></tr>"
        }
        out += "</tbody></table>"
        let measured = report.candidates.filter { $0.parity != nil && $0.facts.bytes != nil }
        if measured.count > 1 {
            out += "<p class=\"hint\">Size against error: lower left is better. Each point is one candidate's last hidden state.</p>"
            out += "<div class=\"charts\">" + sizePlots(measured).map { $0.layout().figure }.joined() + "</div>"
        }
        return out + "</section>"
    }

    /// `Q4_K (73), F32 (24)`: the stored types, most common first, plus the packed scheme.
    static func storedAs(_ facts: ModelFacts) -> String {
        facts.quantization ?? facts.dtypes.prefix(3).map { "\($0.dtype.uppercased()) ×\($0.count)" }.joined(separator: ", ")
    }

    /// Tensor bytes against the last hidden state's error, one point per candidate.
    public static func sizePlots(_ candidates: [CandidateResult]) -> [Plot] {
        func plot(_ title: String, _ y: String, _ value: (StateParity) -> Double) -> Plot {
            let series = candidates.enumerated().compactMap { i, c -> Series? in
                guard let last = c.parity?.last, let bytes = c.facts.bytes else { return nil }
                return Series(name: c.label, points: [DataPoint(x: Double(bytes), y: value(last), label: c.label,
                                                                note: "\(ReportFormat.bytes(bytes)), \(ReportFormat.error(value(last)))")],
                              style: .markers, color: i)
            }
            return Plot(title: title, x: AxisSpec(title: "tensor bytes", style: .bytes), y: AxisSpec(title: y), series: series)
        }
        return [plot("Size and cosine distance", "1 − min cosine", { ReportFormat.cosineDistance($0.cosineSimilarity) }),
                plot("Size and max |error|", "max |error|", \.maxAbsError)]
    }

    static func layers(_ report: ComparisonReport) -> String {
        let measured = report.candidates.filter { $0.parity != nil }
        guard !measured.isEmpty else { return "" }
        var out = "<section id=\"layers\"><h2>Along the layers</h2><p class=\"hint\">Layer 0 is the embeddings output. "
            + "Dashed red lines are the tolerances; the shaded band above them fails. Axes turn logarithmic where the values span decades; "
            + "hollow points lie outside the axis (an exact zero on a log scale) and sit on its edge.</p>"
        out += "<div class=\"charts\">" + layerPlots(measured).map { $0.layout().figure }.joined() + "</div>"
        for c in measured {
            guard let p = c.parity else { continue }
            out += "<details\(measured.count == 1 ? " open" : "")><summary>Per-layer figures: <code>\(HTML.escape(c.label))</code></summary>"
                + "<table class=\"layers\" data-candidate=\"\(HTML.escape(c.facts.path))\"><thead><tr><th>state</th><th class=\"num\">max |error|</th>"
                + "<th class=\"num\">mean |error|</th><th class=\"num\">min cosine</th><th></th></tr></thead><tbody>"
            for s in p.layers + p.heads {
                out += "<tr\(s.passed ? "" : " class=\"failed\"") data-state=\"\(HTML.escape(s.name))\"><td>\(HTML.escape(s.name))</td>"
                    + HTML.number(s.maxAbsError, ReportFormat.error(s.maxAbsError)) + HTML.number(s.meanAbsError, ReportFormat.error(s.meanAbsError))
                    + HTML.number(s.cosineSimilarity, ReportFormat.cosine(s.cosineSimilarity)) + "<td>\(badge(s.passed))</td></tr>"
            }
            out += "</tbody></table>"
            out += p.notes.map { "<p class=\"hint\">note: \(HTML.escape($0))</p>" }.joined() + "</details>"
        }
        return out + "</section>"
    }

    /// Max |error|, mean |error| and 1 − cosine per layer, one series per candidate, with the tolerances drawn.
    public static func layerPlots(_ candidates: [CandidateResult]) -> [Plot] {
        let depth = candidates.compactMap { $0.parity?.layers.count }.max() ?? 1
        let ticks = (0..<depth).map { Tick(Double($0), $0 == 0 ? "emb" : String($0)) }
        let x = AxisSpec(title: "layer", ticks: ticks)
        func series(_ value: @escaping (StateParity) -> Double, _ format: @escaping (Double) -> String) -> [Series] {
            candidates.enumerated().map { i, c in
                Series(name: c.label, points: (c.parity?.layers ?? []).map {
                    DataPoint(x: Double($0.layer ?? 0), y: value($0), note: "\($0.name) \(format(value($0)))")
                }, color: i)
            }
        }
        func lines(_ limit: (Tolerance) -> Double?, _ label: (Double) -> String) -> [ReferenceLine] {
            var seen: [Double] = []
            for c in candidates { if let v = c.parity.flatMap({ limit($0.tolerance) }), !seen.contains(v) { seen.append(v) } }
            return seen.map { v in
                let owners = candidates.filter { $0.parity.flatMap { limit($0.tolerance) } == v }.map(\.label)
                // A tolerance only some candidates have is drawn for them, without shading the others' values.
                let shared = owners.count == candidates.count
                return ReferenceLine(value: v, label: label(v) + (shared ? "" : " (" + owners.joined(separator: ", ") + ")"), shadesAbove: shared)
            }
        }
        return [
            Plot(title: "Max |error| per layer", x: x, y: AxisSpec(title: "max |error|"),
                 series: series(\.maxAbsError, ReportFormat.error), lines: lines(\.maxError) { "tolerance " + ReportFormat.error($0) }),
            Plot(title: "Cosine distance per layer (1 − smallest token cosine)", x: x, y: AxisSpec(title: "1 − min cosine"),
                 series: series({ ReportFormat.cosineDistance($0.cosineSimilarity) }, ReportFormat.error),
                 lines: lines({ $0.minCosine.map { 1 - $0 } }) { "tolerance: cosine ≥ " + ReportFormat.trimmed(ReportFormat.fixed(1 - $0, decimals: 6)) }),
            Plot(title: "Mean |error| per layer", x: x, y: AxisSpec(title: "mean |error|"), series: series(\.meanAbsError, ReportFormat.error)),
        ]
    }

    static func heads(_ report: ComparisonReport) -> String {
        var out = "<section id=\"heads\"><h2>Head outputs</h2>"
        let withHeads = report.candidates.filter { !$0.heads.isEmpty }
        guard !withHeads.isEmpty else {
            return out + "<p class=\"slot\">No head outputs were compared: the models are bare encoders, or the verifier does not "
                + "run their head. Task heads (pooler, logits, label agreement of fine-tuned classifiers) appear here when it does.</p></section>"
        }
        // One column per measure, in the order the heads name them.
        var labels: [String] = []
        for head in withHeads.flatMap(\.heads) { for m in head.metrics where !labels.contains(m.label) { labels.append(m.label) } }
        let several = report.candidates.count > 1
        out += "<table class=\"heads\"><thead><tr>" + (several ? "<th>candidate</th>" : "") + "<th>output</th>"
            + labels.map { "<th class=\"num\">\(HTML.escape($0))</th>" }.joined() + "<th></th></tr></thead><tbody>"
        for c in withHeads {
            for head in c.heads {
                out += "<tr\(head.passed == false ? " class=\"failed\"" : "") data-candidate=\"\(HTML.escape(c.facts.path))\" data-head=\"\(HTML.escape(head.name))\">"
                    + (several ? "<td><code>\(HTML.escape(c.label))</code></td>" : "") + "<td>\(HTML.escape(head.name))</td>"
                out += labels.map { label in head.metrics.first { $0.label == label }.map { HTML.number($0.value, $0.text) } ?? "<td></td>" }.joined()
                out += "<td>\(head.passed.map(badge) ?? "")</td></tr>"
            }
        }
        return out + "</tbody></table></section>"
    }

    /// How many of the most divergent tokens are marked and listed.
    static let worstTokenCount = 5

    static func tokens(_ report: ComparisonReport) -> String {
        var out = "<section id=\"tokens\"><h2>Where the tokens diverge</h2><p class=\"hint\">Each token of the input texts, shaded by "
            + "its cosine distance in the last compared hidden state (<span class=\"scale\"></span> darker: further apart, on a log "
            + "scale from the closest to the furthest token); the \(worstTokenCount) furthest are outlined and numbered.</p>"
        for c in report.candidates {
            guard let parity = c.parity, !parity.tokens.isEmpty else { continue }
            if report.candidates.count > 1 { out += "<h3><code>\(HTML.escape(c.label))</code></h3>" }
            let distance = parity.tokens.map { ReportFormat.cosineDistance($0.cosineSimilarity) }
            let ranked = parity.tokens.indices.sorted { distance[$0] != distance[$1] ? distance[$0] > distance[$1] : $0 < $1 }
            let worst = Dictionary(uniqueKeysWithValues: ranked.prefix(worstTokenCount).filter { distance[$0] > 0 }.enumerated().map { ($1, $0 + 1) })
            let positive = distance.filter { $0 > 0 }
            let lo = positive.min().map { log10($0) }, hi = positive.max().map { log10($0) }
            func shade(_ d: Double) -> Double {
                guard d > 0, let lo, let hi else { return 0 }
                return hi > lo ? 0.15 + 0.85 * (log10(d) - lo) / (hi - lo) : 1
            }
            var bySequence: [Int: [Int]] = [:]
            for (i, t) in parity.tokens.enumerated() { bySequence[t.sequence, default: []].append(i) }
            for sequence in bySequence.keys.sorted() {
                out += "<p class=\"tokens\" data-candidate=\"\(HTML.escape(c.facts.path))\" data-sequence=\"\(sequence)\">"
                for i in bySequence[sequence] ?? [] {
                    let t = parity.tokens[i]
                    let text = t.sequence < report.tokens.count && t.position < report.tokens[t.sequence].count
                        ? report.tokens[t.sequence][t.position] : "#\(t.position)"
                    let special = text.hasPrefix("[") && text.hasSuffix("]")
                    let piece = text.hasPrefix("##") && !special
                    let rank = worst[i]
                    out += (piece || i == bySequence[sequence]?.first ? "" : " ")
                        + "<span class=\"tok\(special ? " special" : "")\(rank != nil ? " worst" : "")\" style=\"--d: \(ReportFormat.fixed(shade(distance[i]), decimals: 3))\""
                        + " data-position=\"\(t.position)\" data-cosine=\"\(ReportFormat.exact(t.cosineSimilarity))\""
                        + " data-max-error=\"\(ReportFormat.exact(t.maxAbsError))\""
                        + " title=\"\(HTML.escape("\(text) (position \(t.position)): cosine \(ReportFormat.cosine(t.cosineSimilarity)), max |error| \(ReportFormat.error(t.maxAbsError))"))\">"
                        + HTML.escape(piece ? String(text.dropFirst(2)) : text) + (rank.map { "<sup>\($0)</sup>" } ?? "") + "</span>"
                }
                out += "</p>"
            }
            let listed = ranked.prefix(worstTokenCount).filter { distance[$0] > 0 }
            if listed.isEmpty { out += "<p class=\"hint\">Every token's vector is the reference's (cosine distance below 1e-12).</p>" }
            if !listed.isEmpty {
                out += "<table class=\"worst-tokens\"><thead><tr><th>#</th><th>token</th><th class=\"num\">sequence</th><th class=\"num\">position</th>"
                    + "<th class=\"num\">cosine</th><th class=\"num\">1 − cosine</th><th class=\"num\">max |error|</th></tr></thead><tbody>"
                for (rank, i) in listed.enumerated() {
                    let t = parity.tokens[i]
                    let text = t.sequence < report.tokens.count && t.position < report.tokens[t.sequence].count ? report.tokens[t.sequence][t.position] : "?"
                    out += "<tr><td>\(rank + 1)</td><td><code>\(HTML.escape(text))</code></td><td class=\"num\">\(t.sequence)</td>"
                        + "<td class=\"num\">\(t.position)</td>" + HTML.number(t.cosineSimilarity, ReportFormat.cosine(t.cosineSimilarity))
                        + HTML.number(distance[i], ReportFormat.error(distance[i])) + HTML.number(t.maxAbsError, ReportFormat.error(t.maxAbsError)) + "</tr>"
                }
                out += "</tbody></table>"
            }
        }
        return out + "</section>"
    }

    static func tensors(_ report: ComparisonReport) -> String {
        let changed = report.candidates.filter { !$0.tensors.isEmpty }
        guard !changed.isEmpty else { return "" }
        var out = "<section id=\"tensors\"><h2>Tensors that changed type</h2><p class=\"hint\">Each converted weight against the "
            + "reference's, both read back as f32. Sorted worst first (lowest cosine).</p>"
        for c in changed {
            if report.candidates.count > 1 { out += "<h3><code>\(HTML.escape(c.label))</code></h3>" }
            let plots = tensorPlots(c)
            if !plots.isEmpty { out += "<div class=\"charts\">" + plots.map { $0.layout().figure }.joined() + "</div>" }
            out += "<div class=\"scroll\"><table class=\"tensors\" data-candidate=\"\(HTML.escape(c.facts.path))\"><thead><tr><th>tensor</th>"
                + "<th class=\"num\">layer</th><th>kind</th><th>type</th><th class=\"num\">bits / weight</th><th class=\"num\">RMS error</th>"
                + "<th class=\"num\">max |error|</th><th class=\"num\">cosine</th></tr></thead><tbody>"
            for row in sortedWorstFirst(c.tensors) {
                let q = row.quality
                out += "<tr data-tensor=\"\(HTML.escape(q.name))\"><td><code>\(HTML.escape(q.name))</code></td>"
                    + "<td class=\"num\">\(row.layer.map(String.init) ?? "")</td><td>\(HTML.escape(row.kind))</td>"
                    + "<td>\(HTML.escape(q.dtype.rawValue.uppercased()))</td>"
                    + (row.bitsPerWeight.map { HTML.number($0, ReportFormat.bits($0)) } ?? "<td></td>")
                    + HTML.number(q.rmsError, ReportFormat.error(q.rmsError)) + HTML.number(q.maxError, ReportFormat.error(q.maxError))
                    + HTML.number(q.cosineSimilarity, ReportFormat.cosine(q.cosineSimilarity)) + "</tr>"
            }
            out += "</tbody></table></div>"
        }
        return out + "</section>"
    }

    /// Lowest cosine first; ties by larger RMS error, then by name.
    public static func sortedWorstFirst(_ rows: [TensorRow]) -> [TensorRow] {
        rows.sorted {
            let a = $0.quality, b = $1.quality
            if a.cosineSimilarity != b.cosineSimilarity { return a.cosineSimilarity < b.cosineSimilarity }
            if a.rmsError != b.rmsError { return a.rmsError > b.rmsError }
            return a.name < b.name
        }
    }

    /// The most series a tensor plot draws (one colour each); further kinds are in the table only.
    static let maxKinds = Palette.count

    /// RMS error and cosine distance by layer, one series per weight kind (biases are in the table only); tensors
    /// outside the layers (embeddings) at the left. With more kinds than colours, the ones with the largest error.
    public static func tensorPlots(_ candidate: CandidateResult) -> [Plot] {
        let weights = candidate.tensors.filter { !$0.quality.name.hasSuffix(".bias") }
        guard !weights.isEmpty else { return [] }
        var worst: [String: Double] = [:]
        for row in weights { worst[row.kind] = max(worst[row.kind] ?? 0, row.quality.rmsError) }
        let order = TensorKind.short.map(\.1)
        let rank: (String) -> (Int, String) = { (order.firstIndex(of: $0) ?? order.count, $0) }
        let kinds = Array(worst.keys.sorted { worst[$0]! != worst[$1]! ? worst[$0]! > worst[$1]! : rank($0) < rank($1) }.prefix(maxKinds))
            .sorted { rank($0) < rank($1) }
        let shown = weights.filter { kinds.contains($0.kind) }
        let depth = (shown.compactMap(\.layer).max() ?? -1) + 1
        var ticks = (0..<depth).map { Tick(Double($0), String($0)) }
        if shown.contains(where: { $0.layer == nil }) { ticks.insert(Tick(-1, "emb"), at: 0) }
        if ticks.count == 1 { ticks.append(Tick(ticks[0].value + 1, "")) }
        func plot(_ title: String, _ y: String, _ value: @escaping (TensorQuality) -> Double) -> Plot {
            let series = kinds.enumerated().map { i, kind in
                Series(name: kind, points: shown.filter { $0.kind == kind }.map {
                    DataPoint(x: Double($0.layer ?? -1), y: value($0.quality),
                              note: "\($0.quality.name) \($0.quality.dtype.rawValue.uppercased()) \(ReportFormat.error(value($0.quality)))")
                }.sorted { $0.x < $1.x }, style: shown.contains { $0.kind == kind && $0.layer != nil } ? .line : .markers, color: i)
            }
            return Plot(title: title, x: AxisSpec(title: "layer", ticks: ticks), y: AxisSpec(title: y, includesZero: false), series: series)
        }
        let hidden = Set(weights.map(\.kind)).count - kinds.count
        let note = hidden > 0 ? " (\(kinds.count) kinds with the largest error; \(hidden) more in the table)" : ""
        return [plot("RMS error by layer and tensor kind" + note, "RMS error", \.rmsError),
                plot("Cosine distance by layer and tensor kind", "1 − cosine", { ReportFormat.cosineDistance($0.cosineSimilarity) })]
    }

    static func models(_ report: ComparisonReport) -> String {
        let all = [report.reference] + report.candidates.map(\.facts)
        let heads = ["<th></th><th>\(report.kind == .verification ? "reference" : "source")</th>"]
            + report.candidates.map { "<th>\(HTML.escape($0.label))</th>" }
        func row(_ name: String, _ cell: (ModelFacts) -> String) -> String {
            "<tr><th scope=\"row\">\(name)</th>" + all.map { "<td>\(cell($0))</td>" }.joined() + "</tr>"
        }
        let referenceBytes = report.reference.bytes
        var rows = [
            row("path") { "<code>\(HTML.escape($0.path))</code>" },
            row("format") { HTML.escape($0.format) },
            row("architecture") { HTML.escape($0.architecture) },
            row("layers") { $0.layers.map(String.init) ?? "" },
            row("hidden size") { $0.hiddenSize.map(String.init) ?? "" },
            row("tensors") { "\($0.tensorCount)" },
            row("stored types") { HTML.escape($0.dtypes.map { "\($0.dtype.uppercased()) ×\($0.count)" }.joined(separator: ", ")) },
            row("parameters") { $0.parameters.map(ReportFormat.count) ?? "" },
            row("tensor bytes") { f in
                guard let b = f.bytes else { return "" }
                let share = referenceBytes.flatMap { $0 > 0 && f.path != report.reference.path ? " (\(ReportFormat.fixed(Double(b) * 100 / Double($0), decimals: 1))%)" : nil }
                return "<span class=\"mono\" data-value=\"\(b)\">\(ReportFormat.bytes(b))</span>" + (share ?? "")
            },
        ]
        if all.contains(where: { $0.quantization != nil }) { rows.append(row("packed weights") { HTML.escape($0.quantization ?? "") }) }
        if all.contains(where: { !$0.dropped.isEmpty }) {
            rows.append(row("dropped") { f in
                guard !f.dropped.isEmpty else { return "" }
                var reasons: [(String, Int)] = []
                for d in f.dropped {
                    if let i = reasons.firstIndex(where: { $0.0 == d.reason }) { reasons[i].1 += 1 } else { reasons.append((d.reason, 1)) }
                }
                return "\(f.dropped.count) tensors (\(ReportFormat.bytes(f.dropped.reduce(0) { $0 + $1.byteCount }))): "
                    + HTML.escape(reasons.map { "\($0.1) × \($0.0)" }.joined(separator: ", "))
            })
        }
        if all.contains(where: { !$0.notes.isEmpty }) {
            rows.append(row("notes") { $0.notes.map(HTML.escape).joined(separator: "<br>") })
        }
        let candidateNotes = report.candidates.flatMap { c in c.notes.map { "<p class=\"hint\"><code>\(HTML.escape(c.label))</code>: \(HTML.escape($0))</p>" } }
        return "<section id=\"models\"><h2>The models</h2><div class=\"scroll\"><table class=\"facts\"><thead><tr>\(heads.joined())</tr></thead><tbody>"
            + rows.joined() + "</tbody></table></div>" + candidateNotes.joined() + "</section>"
    }
}
