import ArgumentParser
import BinaryIO
import ModelIR
import ModelPort
import Reports
import Verifier

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Run a reference and a candidate model on the same inputs and report the numeric gap per layer.",
        discussion: """
            Both models may be in any format ModelPort reads (a TF checkpoint against the converted folder, a \
            PyTorch file against its f16 copy). Every hidden state is compared: max and mean absolute error, and \
            the smallest cosine similarity over real tokens. A candidate with fewer layers (--keep-layers) is \
            compared with the reference's first layers.

            Tolerances default by the candidate's type: f32 max |error| ≤ 1e-5; f16/bf16 and 8-bit cosine ≥ 0.999; \
            4-bit cosine ≥ 0.99. Exit status 0 when every layer passes, 1 otherwise.

            Inputs: --inputs FILE.safetensors with input_ids [batch, length] (and optional token_type_ids, \
            attention_mask, any integer type), or --text "..." (repeatable) tokenized by the reference's own \
            tokenizer as transformers does (see `modelport tokenize --help`; a candidate with a pruned vocabulary \
            reads them through its own); without either, a fixed deterministic batch of two sequences. For \
            classifiers and rerankers, --pair "..." gives the --text at the same position a second sentence: \
            --text "query" --pair "passage" is [CLS] query [SEP] passage [SEP], token types 0 then 1 (give one \
            --pair per --text).

            Fine-tuned heads are compared as rows after the hidden states: logits (sequence / token \
            classification, rerankers), start_logits and end_logits (question answering), prediction_logits \
            (masked LM), sentence_embedding (sentence-transformers); for classifiers the report says on how many \
            inputs (or tokens) the predicted labels agree, for QA on how many the best answer spans agree. \
            --task (see convert --help) applies to all models.

            Several candidates (verify REF f16 q8_0.gguf q4_k.gguf) are each compared with one reference pass; \
            the exit status is 1 when any fails. --report FILE.html writes one self-contained page (inline CSS \
            and SVG, no scripts, light and dark mode): the verdict with the tolerances, max / mean error and \
            cosine along the layers with the tolerance drawn, size against error when there are several \
            candidates, the tokens that diverge most in --text inputs, head outputs, every tensor whose type \
            changed (bits per weight, RMS error, cosine; worst first, and by layer and kind), and the models' \
            facts side by side. Any other --report name gets the --json object; with several candidates that is \
            {"passed": …, "candidates": [one object per candidate, with its "candidate" path]}.

            Examples:
              modelport verify Samples/bert-tiny out/bert-f16
              modelport verify bert-base out/f16 out/q8_0.gguf out/q4_k.gguf --text "a sentence" --report report.html
              modelport verify Samples/heads/bert-classifier-tf1 out/sentiment --text "the model is fast" --pair "it is safe"
            """
    )

    @Argument(help: "The reference model (file, checkpoint prefix or folder).")
    var reference: String

    @Argument(help: ArgumentHelp("The candidate models to check against it (one or more).", valueName: "candidate"))
    var candidates: [String] = []

    @Option(help: ArgumentHelp("In the reference folder, when it holds several weight files, read this one (tf_model.h5, flax_model.msgpack, …).", valueName: "file"))
    var weights: String?

    @Option(help: ArgumentHelp("Inputs (input_ids, token_type_ids, attention_mask) as safetensors.", valueName: "file"))
    var inputs: String?

    @Option(name: .customLong("text"), help: ArgumentHelp("A sentence to tokenize with the reference's tokenizer (repeatable).", valueName: "text"))
    var texts: [String] = []

    @Option(name: .customLong("pair"), help: ArgumentHelp("The second sentence of the --text at the same position (classifiers, rerankers, QA: [CLS] text [SEP] pair [SEP], token types 0 then 1).", valueName: "text"))
    var pairs: [String] = []

    @OptionGroup(title: "Fine-tuned models")
    var task: TaskArguments

    @Option(help: ArgumentHelp("Fail when any element differs by more than this.", valueName: "x"))
    var maxError: Double?

    @Option(help: ArgumentHelp("Fail when any token's cosine similarity is below this.", valueName: "x"))
    var minCosine: Double?

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    @Option(help: ArgumentHelp("Also write the report to FILE: .html is a self-contained page with plots, any other name JSON.", valueName: "file"))
    var report: String?

    @Flag(help: "Replace the --report file if it exists.")
    var force = false

    func validate() throws {
        if candidates.isEmpty { throw ValidationError("Missing expected argument '<candidate> ...'") }
    }

    func run() throws {
        // The report's file is claimed first: a report that cannot be written stops the run before the passes.
        let reportFile = try report.map { try AtomicFile(destination: $0, existing: force ? .replace : .refuse) }
        let options = LoadOptions(task: try task.options())
        var referenceOptions = options
        referenceOptions.weightsFile = weights
        let referenceModel = try ModelLoader.load(reference, options: referenceOptions)
        let candidateModels = try candidates.map { try ModelLoader.load($0, options: options) }
        let batch = try Verification.inputs(from: inputs, texts: texts, pairs: pairs, for: [referenceModel] + candidateModels)
        let tolerance: Tolerance? = maxError == nil && minCosine == nil ? nil : Tolerance(maxError: maxError, minCosine: minCosine)
        let expected = try Verification.forward(referenceModel, inputs: batch, source: reference)
        var reports: [ParityReport] = []
        for (path, model) in zip(candidates, candidateModels) {
            // A candidate with its own (pruned) vocabulary reads the texts through it.
            let candidateBatch = try Verification.candidateInputs(texts: texts, pairs: pairs, reference: referenceModel, candidate: model)
            reports.append(try Verification.verify(expected: expected, candidate: model, inputs: batch, candidateInputs: candidateBatch,
                                                   tolerance: tolerance, name: path))
        }
        if let file = reportFile, let report {
            let bytes: [UInt8]
            if Self.isHTML(report) {
                let document = Self.document(reference: (reference, referenceModel), candidates: Array(zip(candidates, candidateModels)),
                                             reports: reports, batch: batch, texts: !texts.isEmpty)
                bytes = Array(ReportPage.html(document).utf8)
            } else {
                bytes = Array(Self.json(reports, candidates: candidates).serialized(.pretty).utf8)
            }
            try file.write(bytes)
            try file.commit()
        }
        let console = Console.current
        if json {
            console.out(Self.json(reports, candidates: candidates).serialized(.pretty))
        } else {
            console.out(zip(candidates, reports).map { Self.text($1, reference: reference, candidate: $0, batch: batch) }.joined(separator: "\n\n"))
            if reports.count > 1 {
                let failed = zip(candidates, reports).filter { !$1.passed }.map(\.0)
                console.out("\n" + (failed.isEmpty ? "PASS: all \(reports.count) candidates are within tolerance"
                    : "FAIL: \(failed.count) of \(reports.count) candidates exceed the tolerance (\(failed.joined(separator: ", ")))"))
            }
        }
        if let report, !json { console.out("wrote \(report)") }
        if !reports.allSatisfy(\.passed) { throw ExitCode.failure }
    }

    /// `.html` / `.htm` reports are pages; anything else is JSON.
    static func isHTML(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".html") || lower.hasSuffix(".htm")
    }

    /// The HTML report's values: the models' facts, the parity reports, per-tensor quality where types changed,
    /// and the tokens of `--text` inputs.
    static func document(reference: (path: String, model: Model), candidates: [(String, Model)], reports: [ParityReport],
                         batch: EncoderInputs, texts: Bool) -> ComparisonReport {
        let results = zip(candidates, reports).map { candidate, report in
            var notes: [String] = []
            var tensors: [TensorRow] = []
            do {
                tensors = try Reporting.tensorQuality(reference: reference.model, candidate: candidate.1)
            } catch {
                notes.append("no per-tensor comparison: \(error)")
            }
            return CandidateResult(facts: Reporting.facts(path: candidate.0, model: candidate.1), parity: report, tensors: tensors, notes: notes)
        }
        let tokens = texts ? Reporting.tokenTexts(batch, model: reference.model) : []
        return ComparisonReport(kind: .verification, reference: Reporting.facts(path: reference.path, model: reference.model), candidates: results,
                                inputs: "\(batch.batch) sequence\(batch.batch == 1 ? "" : "s") × \(batch.length) tokens" + (texts ? " (--text)" : ""), tokens: tokens,
                                generator: "modelport \(ModelPortCommand.configuration.version)")
    }

    /// One report as the single-candidate `--json` object; several as `{"passed", "candidates": [...]}`.
    static func json(_ reports: [ParityReport], candidates: [String]) -> JSON {
        guard reports.count > 1 else { return reports.first.map(json) ?? .null }
        return .object([
            ("passed", .bool(reports.allSatisfy(\.passed))),
            ("candidates", .array(zip(candidates, reports).map { path, report in
                guard case .object(let members) = json(report) else { return json(report) }
                return .object([("candidate", .string(path))] + members)
            })),
        ])
    }

    static func text(_ report: ParityReport, reference: String, candidate: String, batch: EncoderInputs) -> String {
        var lines = ["reference:  \(reference)", "candidate:  \(candidate)",
                     "inputs:     \(batch.batch) sequences × \(batch.length) tokens", "tolerance:  \(report.tolerance.description)", ""]
        let rows = (report.layers + report.heads).map { l in
            [l.name, sci(l.maxAbsError), sci(l.meanAbsError), String(format6: l.cosineSimilarity), l.passed ? "ok" : "FAIL"]
        }
        lines += table(header: ["state", "max |error|", "mean |error|", "min cosine", ""], rows: rows)
        lines += report.agreements.map { "decisions: " + $0.description }
        lines += report.notes.map { "note: " + $0 }
        lines.append("")
        lines.append(report.passed ? "PASS: every layer is within tolerance" : "FAIL: some layers exceed the tolerance")
        return lines.joined(separator: "\n")
    }

    static func json(_ report: ParityReport) -> JSON {
        func state(_ s: StateParity) -> [(key: String, value: JSON)] {
            [("max_abs_error", .double(s.maxAbsError)), ("mean_abs_error", .double(s.meanAbsError)),
             ("cosine_similarity", .double(s.cosineSimilarity)), ("passed", .bool(s.passed))]
        }
        var members: [(key: String, value: JSON)] = [("passed", .bool(report.passed))]
        members += state(report.last).filter { $0.key != "passed" }
        members.append(("tolerance", .object([
            ("max_error", report.tolerance.maxError.map(JSON.double) ?? .null),
            ("min_cosine", report.tolerance.minCosine.map(JSON.double) ?? .null),
        ])))
        members.append(("layers", .array(report.layers.map { .object([("layer", .integer($0.layer ?? 0))] + state($0)) })))
        for head in report.heads { members.append((head.name, .object(state(head)))) }
        members.append(("agreements", .array(report.agreements.map {
            .object([("what", .string($0.what)), ("agreeing", .integer($0.agreeing)), ("total", .integer($0.total))])
        })))
        members.append(("notes", .array(report.notes.map(JSON.string))))
        return .object(members)
    }
}

struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run one model's reference forward pass (fp32) and write or summarize its outputs.",
        discussion: """
            Writes last_hidden_state, hidden_states.N (the embeddings first) and pooler_output as f32 safetensors \
            with --output, and the head's outputs under transformers' names: logits (sequence / token \
            classification, rerankers), start_logits and end_logits (question answering), prediction_logits (masked \
            LM), or sentence_embedding (sentence-transformers' Pooling, Dense and Normalize); --json prints their \
            shapes and summary statistics. --pair gives each --text a second sentence, as in verify.
            """
    )

    @Argument(help: "The model (file, checkpoint prefix or folder).")
    var model: String

    @Option(help: ArgumentHelp("Inputs (input_ids, token_type_ids, attention_mask) as safetensors.", valueName: "file"))
    var inputs: String?

    @Option(name: .customLong("text"), help: ArgumentHelp("A sentence to tokenize with the model's tokenizer (repeatable).", valueName: "text"))
    var texts: [String] = []

    @Option(name: .customLong("pair"), help: ArgumentHelp("The second sentence of the --text at the same position.", valueName: "text"))
    var pairs: [String] = []

    @OptionGroup(title: "Fine-tuned models")
    var task: TaskArguments

    @Option(help: ArgumentHelp("Write the outputs to this safetensors file.", valueName: "file"))
    var output: String?

    @Flag(help: "Replace --output if it exists.")
    var force = false

    @Flag(help: "Print shapes and statistics as one JSON object.")
    var json = false

    @Flag(help: "Run the pass once untimed first, so that the seconds --json prints leave out loading (the BLAS library, the weights' pages).")
    var warmUp = false

    func run() throws {
        let loaded = try ModelLoader.load(model, options: LoadOptions(task: try task.options()))
        let batch = try Verification.inputs(from: inputs, texts: texts, pairs: pairs, for: [loaded])
        if warmUp { _ = try Verification.forward(loaded, inputs: batch, source: model) }
        let start = ContinuousClock.now
        let result = try Verification.forward(loaded, inputs: batch, source: model)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if let output {
            try Verification.write(result, to: output, options: OutputOptions(existing: force ? .replace : .refuse))
        }
        func stats(_ values: [Float]) -> [(key: String, value: JSON)] {
            let mean = values.reduce(0.0) { $0 + Double($1) } / Double(max(values.count, 1))
            let rms = (values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(values.count, 1))).squareRoot()
            return [("mean", .double(mean)), ("rms", .double(rms)),
                    ("min", .double(Double(values.min() ?? 0))), ("max", .double(Double(values.max() ?? 0)))]
        }
        let shape = JSON.array([.integer(result.batch), .integer(result.length), .integer(result.width)])
        if json {
            var members: [(key: String, value: JSON)] = [("model", .string(model)), ("architecture", .string(loaded.config.architecture.rawValue)),
                                                         ("batch", .integer(result.batch)), ("length", .integer(result.length)),
                                                         ("seconds", .double(seconds)), ("warm_up", .bool(warmUp))]
            if let blas = try? BLASLibrary.loaded() {
                members.append(("blas", .object([("library", .string(blas.library)), ("kernel", .string(blas.kernel)),
                                                 ("kernel_choice", .string(blas.kernelChoice)), ("cpuid_kernel", .string(blas.detectedKernel)),
                                                 ("threads", .integer(blas.threads)), ("config", .string(blas.configuration))])))
            }
            members.append(("last_hidden_state", .object([("shape", shape)] + stats(result.lastHiddenState))))
            members.append(("hidden_states", .integer(result.hiddenStates.count)))
            if let pooled = result.pooler {
                members.append(("pooler_output", .object([("shape", .array([.integer(result.batch), .integer(result.width)]))] + stats(pooled))))
            }
            for head in result.heads {
                members.append((head.name, .object([("shape", .array(head.shape.map(JSON.integer)))] + stats(head.values))))
            }
            if let output { members.append(("output", .string(output))) }
            Console.current.out(JSON.object(members).serialized(.pretty))
        } else {
            Console.current.out("\(model): \(loaded.config.architecture.rawValue), \(result.batch) × \(result.length) tokens, "
                + "\(result.hiddenStates.count) hidden states of width \(result.width)"
                + (result.pooler != nil ? ", pooler" : "")
                + result.heads.map { ", \($0.name) \($0.shape.map(String.init).joined(separator: "×"))" }.joined()
                + (output.map { "; wrote \($0)" } ?? ""))
        }
    }
}

private func sci(_ value: Double) -> String {
    if value == 0 { return "0" }
    guard value.isFinite else { return value.isNaN ? "nan" : value > 0 ? "inf" : "-inf" }
    var exponent = 0
    var mantissa = value
    while mantissa >= 10 { mantissa /= 10; exponent += 1 }
    while mantissa < 1 { mantissa *= 10; exponent -= 1 }
    let rounded = (mantissa * 100).rounded() / 100
    return "\(rounded)e\(exponent)"
}


