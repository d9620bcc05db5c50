import ArgumentParser
import BinaryIO
import ModelIR
import ModelPort
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
            attention_mask, any integer type), or --text "..." (repeatable) tokenized like transformers' \
            BertTokenizer with the reference's vocab.txt (CJK characters one by one); without either, a fixed \
            deterministic batch of two sequences.
            """
    )

    @Argument(help: "The reference model (file, checkpoint prefix or folder).")
    var reference: String

    @Argument(help: "The candidate model to check against it.")
    var candidate: String

    @Option(help: ArgumentHelp("Inputs (input_ids, token_type_ids, attention_mask) as safetensors.", valueName: "file"))
    var inputs: String?

    @Option(name: .customLong("text"), help: ArgumentHelp("A sentence to tokenize with the reference's vocab.txt (repeatable).", valueName: "text"))
    var texts: [String] = []

    @Option(help: ArgumentHelp("Fail when any element differs by more than this.", valueName: "x"))
    var maxError: Double?

    @Option(help: ArgumentHelp("Fail when any token's cosine similarity is below this.", valueName: "x"))
    var minCosine: Double?

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func run() throws {
        let referenceModel = try ModelLoader.load(reference)
        let candidateModel = try ModelLoader.load(candidate)
        let batch = try Verification.inputs(from: inputs, texts: texts, for: [referenceModel, candidateModel])
        // A candidate with its own (pruned) vocabulary reads the texts through it.
        let candidateBatch = try Verification.candidateInputs(texts: texts, reference: referenceModel, candidate: candidateModel)
        let tolerance: Tolerance? = maxError == nil && minCosine == nil ? nil : Tolerance(maxError: maxError, minCosine: minCosine)
        let report = try Verification.verify(reference: referenceModel, candidate: candidateModel, inputs: batch, candidateInputs: candidateBatch,
                                             tolerance: tolerance, names: (reference, candidate))
        let console = Console.current
        if json {
            console.out(Self.json(report).serialized(.pretty))
        } else {
            console.out(Self.text(report, reference: reference, candidate: candidate, batch: batch))
        }
        if !report.passed { throw ExitCode.failure }
    }

    static func text(_ report: ParityReport, reference: String, candidate: String, batch: EncoderInputs) -> String {
        var lines = ["reference:  \(reference)", "candidate:  \(candidate)",
                     "inputs:     \(batch.batch) sequences × \(batch.length) tokens", "tolerance:  \(report.tolerance.description)", ""]
        let rows = (report.layers + report.heads).map { l in
            [l.name, sci(l.maxAbsError), sci(l.meanAbsError), String(format6: l.cosineSimilarity), l.passed ? "ok" : "FAIL"]
        }
        lines += table(header: ["state", "max |error|", "mean |error|", "min cosine", ""], rows: rows)
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
            with --output; --json prints their shapes and summary statistics.
            """
    )

    @Argument(help: "The model (file, checkpoint prefix or folder).")
    var model: String

    @Option(help: ArgumentHelp("Inputs (input_ids, token_type_ids, attention_mask) as safetensors.", valueName: "file"))
    var inputs: String?

    @Option(name: .customLong("text"), help: ArgumentHelp("A sentence to tokenize with the model's vocab.txt (repeatable).", valueName: "text"))
    var texts: [String] = []

    @Option(help: ArgumentHelp("Write the outputs to this safetensors file.", valueName: "file"))
    var output: String?

    @Flag(help: "Replace --output if it exists.")
    var force = false

    @Flag(help: "Print shapes and statistics as one JSON object.")
    var json = false

    func run() throws {
        let loaded = try ModelLoader.load(model)
        let batch = try Verification.inputs(from: inputs, texts: texts, for: [loaded])
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
                                                         ("seconds", .double(seconds))]
            members.append(("last_hidden_state", .object([("shape", shape)] + stats(result.lastHiddenState))))
            members.append(("hidden_states", .integer(result.hiddenStates.count)))
            if let pooled = result.pooler {
                members.append(("pooler_output", .object([("shape", .array([.integer(result.batch), .integer(result.width)]))] + stats(pooled))))
            }
            if let output { members.append(("output", .string(output))) }
            Console.current.out(JSON.object(members).serialized(.pretty))
        } else {
            Console.current.out("\(model): \(loaded.config.architecture.rawValue), \(result.batch) × \(result.length) tokens, "
                + "\(result.hiddenStates.count) hidden states of width \(result.width)"
                + (result.pooler != nil ? ", pooler" : "") + (output.map { "; wrote \($0)" } ?? ""))
        }
    }
}

private func sci(_ value: Double) -> String {
    if value == 0 { return "0" }
    var exponent = 0
    var mantissa = value
    while mantissa >= 10 { mantissa /= 10; exponent += 1 }
    while mantissa < 1 { mantissa *= 10; exponent -= 1 }
    let rounded = (mantissa * 100).rounded() / 100
    return "\(rounded)e\(exponent)"
}


