import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import BinaryIO
import ModelIR
import ModelPort
import ONNXFormat
import Quantization
import Reports
import Transforms

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a model to another format, type or depth.",
        discussion: """
            The output kind follows DEST's name unless --to says otherwise: \(Self.impliedOutputs); any other \
            name is a Hugging Face folder (config.json, model.safetensors or shards with an index, and the \
            vocabulary and tokenizer files of the source). `modelport formats` lists every format.

            Tensors are read and written one at a time. The output appears under a temporary name beside \
            DEST and is renamed into place only when complete; an existing DEST is replaced only with --force.

            --dtype casts floating-point tensors (f32, f16, bf16 round to nearest even; NaN and Inf are \
            kept); integer tensors such as position_ids keep their type.

            Quantized Hugging Face / safetensors output: --dtype int8 stores every Linear weight as int8 with \
            one f32 scale per output row (compressed-tensors' int-quantized layout and quantization_config, \
            which transformers loads with the compressed-tensors package); --dtype mlx4 | mlx8 stores Linear \
            and Embedding weights in MLX's affine groups (--group-size 32, 64 or 128; u32 weight, scales, \
            biases, "quantization" in config.json), byte-identical to mlx.core.quantize, for mlx-swift apps.

            --to paddle (or DEST ending .pdparams) writes PaddleNLP BertModel weights that paddle.load reads: \
            bert.* names (encoder.layers.N.self_attn.q_proj, linear1, norm1, …), Linear weights transposed to \
            Paddle's [in, out]; a folder DEST gets model_state.pdparams, model_config.json and vocab.txt.

            --to onnx (or DEST ending .onnx) writes an ONNX graph built from the architecture (opset 17, standard \
            operators; inputs input_ids, attention_mask, token_type_ids; dynamic batch and sequence). Outputs \
            under optimum's and transformers' names: last_hidden_state, pooler_output, logits for classifiers and \
            masked-LM models (optimum's fill-mask graph; BERT cls.predictions, ALBERT predictions, RoBERTa lm_head, \
            the decoder tied to the word-embedding initializer), start_logits / end_logits, prediction_logits with \
            seq_relationship_logits (ALBERT: sop_logits) for pre-training checkpoints (--task masked-lm gives the \
            fill-mask graph, --task encoder no head), sentence_embedding. --dtype f16 stores fp16 weights, --dtype int8 stores \
            per-channel int8 weights for MatMulInteger in the pattern ONNX Runtime fuses into DynamicQuantizeMatMul, \
            smoothed per channel (SmoothQuant) so outlier activation channels keep their accuracy (--onnx-int8 fast: \
            not smoothed; per-token: activations quantized per token). A folder DEST gets model.onnx, config.json and the \
            tokenizer files (optimum's ORTModel layout); --onnx-layout transformers.js puts the graph in onnx/ \
            under the name transformers.js loads for the dtype (model.onnx, model_fp16.onnx, model_quantized.onnx).

            --to gguf (or DEST ending .gguf) writes GGUF v3: BERT-family models in llama.cpp's layout (token_embd, \
            blk.N.attn_q, …, the WordPiece vocabulary, bert.* keys) that llama.cpp loads and runs; other \
            architectures keep every tensor under their own architecture name. Norms, biases, position and \
            token-type tables stay F32; --dtype f16|bf16|q8_0 applies to the weight matrices (rows that are not \
            whole Q8_0 blocks fall back to F16). GGUF sources are read back, dequantized where the output needs it.

            Quantized GGUF: --dtype q8_0|q6_k|q5_k|q5_1|q5_0|q4_k|q4_1|q4_0 (Q4_0…Q8_0 bytes identical to \
            gguf-py's quantizers, Q4_K/Q5_K/Q6_K to ggml's reference quantizers, what llama-quantize writes without \
            an imatrix; rows too short for a K-quant fall back to Q5_0/Q5_1/Q8_0 as llama-quantize does). \
            --keep-f32 REGEX and --tensor-type REGEX=TYPE override tensors by GGUF name (first match wins); \
            --token-embedding-type TYPE sets token_embd alone (e.g. q8_0 to keep the embeddings at 8 bits). \
            --preset q4_k_m / q5_k_m choose each tensor's type as llama-quantize Q4_K_M / Q5_K_M does (Q4_K / Q5_K \
            weights; attn_v and ffn_down at Q6_K in the first and last eighth of the layers and every third layer \
            between; token_embd, which is also BERT's output, at Q6_K, or Q8_0 when rows are not multiples of 256); \
            ModelPort's own mixed-q4 / mixed-q5 for widths that are not multiples of 256 (Q4_0 / Q5_0 weights, \
            token_embd and the first/last layers' attn_v and ffn_down at Q8_0, other attn_v/ffn_down at Q5_1). \
            After quantizing, convert prints each changed tensor's error summary and the end-to-end parity of the \
            written file; --report FILE.json has every tensor, --report FILE.html is a self-contained page with the \
            same figures drawn (error along the layers, each tensor's error by layer and kind, worst first, the two \
            models side by side); --min-cosine X refuses the output, writing nothing, below X.

            --vocab-from CORPUS keeps only the WordPiece tokens a corpus uses (and the special tokens), as \
            TextPruner's vocabulary pruning does: vocab.txt, the word embeddings and a tied MLM decoder shrink \
            together; `modelport verify ORIGINAL PRUNED --text "..."` tokenizes each side with its own vocabulary.

            Fine-tuned models keep their head: a TF run_classifier.py checkpoint (output_weights, output_bias)             becomes BertForSequenceClassification, run_squad.py's cls/squad/* BertForQuestionAnswering (the same             under ALBERT), PaddleNLP's *For* models and Hugging Face / ModelScope task folders keep their class.             --task token-classification | question-answering | sequence-classification | reranker | masked-lm |             pre-training | encoder overrides the guess (taggers reuse run_classifier's names); labels come from the             source's id2label, else --labels a,b,c or --labels-file FILE, else LABEL_0…. Hugging Face output             writes architectures, id2label and label2id, and only the tensors the class has. GGUF writes sequence             classifiers and rerankers for llama.cpp's rank pooling (cls, cls.output) and leaves out, and lists,             every tensor llama.cpp's BERT graph does not load; a sentence-transformers folder's pooling becomes             bert.pooling_type, and its Dense layers, which GGUF cannot hold, are reported.

            --keep-layers N keeps the first N encoder layers, as RBT3 was made from the first three layers \
            of RoBERTa-wwm-ext; --layers picks any layers (renumbered from 0 in the order given). Both \
            rewrite num_hidden_layers in config.json.

            Examples:
              modelport convert Samples/bert-tiny out/bert-f16 --dtype f16 --keep-layers 2
              modelport convert model.safetensors out/sharded --max-shard-size 200MB
              modelport convert chinese-roberta-wwm-ext out/rbt.gguf --preset q4_k_m --min-cosine 0.995
              modelport convert Samples/paddle/rbt-tiny out/rbt-int8 --dtype int8
              modelport convert Samples/heads/bert-classifier-tf1 out/sentiment --labels negative,neutral,positive
              modelport convert Samples/heads/bert-reranker out/reranker.gguf
              modelport convert Samples/tensorflow/bert-tiny-tf1 out/mlm.onnx --task masked-lm --dtype int8
              modelport convert Samples/bert-tiny out/bert-web --onnx-layout transformers.js --dtype f16
            """
    )

    @Argument(help: "The model to read: a file, checkpoint prefix or folder.")
    var source: String

    @Argument(help: "Where to write: a folder, or a \(FormatRegistry.outputs.flatMap { $0.description.destinationSuffixes }.joined(separator: ", ")) file.")
    var destination: String

    @Option(name: .customLong("to"), help: ArgumentHelp("Output kind: \(FormatRegistry.outputs.map { $0.description.id }.joined(separator: ", ")) (modelport formats).", valueName: "kind"))
    var format: String?

    @Option(help: ArgumentHelp("Cast floating-point tensors: keep, f32, f16 or bf16; for GGUF also q8_0, q6_k, q5_k, q5_1, q5_0, q4_k, q4_1, q4_0; for HF/safetensors also int8, mlx4, mlx8.", valueName: "type"))
    var dtype: String = "keep"

    @Option(help: ArgumentHelp("Values per scale for --dtype mlx4/mlx8: 32, 64 or 128.", valueName: "n"))
    var groupSize: Int = 64

    @Flag(help: "Skip the quality report and end-to-end check that quantizing runs by default.")
    var noQuality = false

    @Option(help: ArgumentHelp("Keep only the first N encoder layers.", valueName: "N"))
    var keepLayers: Int?

    @Option(help: ArgumentHelp("Keep these encoder layers in this order: 0,1,2 or 0-2 or 0,5,11.", valueName: "list"))
    var layers: String?

    @Option(help: ArgumentHelp("Split Hugging Face weights into shards of at most SIZE (500MB, 2GB, 1GiB).", valueName: "size"))
    var maxShardSize: String?

    @Option(help: ArgumentHelp("In a folder with weights in several formats, read this file (e.g. tf_model.h5) instead of the first found.", valueName: "file"))
    var weights: String?

    @Flag(help: "Fail when a source tensor matches no naming rule (instead of keeping its name with a warning).")
    var strict = false

    @Flag(help: "GGUF of ALBERT / COCO-LM / Perceiver: keep the pooler and pre-training heads (llama.cpp's BERT layout never holds them).")
    var keepHeads = false

    @Flag(help: "Drop the pooler and the pre-training heads (MLM, NSP/SOP) from any output.")
    var dropHeads = false

    @Option(name: .customLong("keep-f32"), help: ArgumentHelp("GGUF: keep tensors whose name matches this regex in F32 (repeatable).", valueName: "regex"))
    var keepF32: [String] = []

    @Option(name: .customLong("tensor-type"), help: ArgumentHelp("GGUF: give tensors matching REGEX this type, e.g. 'attn_v=q8_0' (repeatable).", valueName: "regex=type"))
    var tensorTypes: [String] = []

    @Option(help: ArgumentHelp("Keep only the vocabulary this UTF-8 corpus uses (plus special tokens): vocab.txt, word embeddings and a tied MLM decoder are cut to it.", valueName: "file"))
    var vocabFrom: String?

    @Option(help: ArgumentHelp("GGUF: the type of token_embd.weight alone, e.g. q8_0 (ahead of --preset).", valueName: "type"))
    var tokenEmbeddingType: String?

    @Option(help: ArgumentHelp("GGUF mixed preset: q4_k_m, q5_k_m (llama-quantize's Q4_K_M / Q5_K_M choices), mixed-q4 or mixed-q5.", valueName: "name"))
    var preset: String?

    @Option(help: ArgumentHelp("Write the quality report (per-tensor error, end-to-end parity): FILE.html as a page with plots, any other name as JSON.", valueName: "file"))
    var report: String?

    @Option(help: ArgumentHelp("Fail, writing nothing, when the end-to-end cosine similarity is below this.", valueName: "x"))
    var minCosine: Double?

    @OptionGroup(title: "Fine-tuned models")
    var task: TaskArguments

    @Flag(help: "ONNX: store the initializers in model.onnx_data beside the graph (automatic above 2 GiB).")
    var externalData = false

    @Option(help: ArgumentHelp("ONNX into a folder: optimum (model.onnx at the top) or transformers.js (onnx/model.onnx, onnx/model_fp16.onnx for --dtype f16, onnx/model_quantized.onnx for --dtype int8); config.json and the tokenizer files at the top either way.", valueName: "layout"))
    var onnxLayout: String?

    @Option(name: .customLong("onnx-attention"), help: ArgumentHelp("ONNX: standard (opset-17 operators, any runtime) or ort (ONNX Runtime's fused com.microsoft.MultiHeadAttention).", valueName: "form"))
    var onnxAttention: String?

    @Option(name: .customLong("onnx-int8"), help: ArgumentHelp("ONNX --dtype int8: smooth (the default: fast with SmoothQuant's per-channel migration from activations to weights, so outlier channels keep their accuracy), fast (DynamicQuantizeLinear per tensor, the pattern ONNX Runtime fuses into DynamicQuantizeMatMul) or per-token (activations quantized per token in standard operators).", valueName: "form"))
    var onnxInt8: String?

    @Flag(help: "Replace DEST if it exists.")
    var force = false

    @Flag(help: "Print the conversion report as one JSON object.")
    var json = false

    func validate() throws {
        if keepLayers != nil, layers != nil { throw ValidationError("use either --keep-layers or --layers, not both") }
        if let report, absolutePath(report) == absolutePath(destination) {
            throw ValidationError("--report names the output itself (\(destination)); give the report its own file")
        }
    }

    /// The destination names that imply an output, from the format registry.
    static var impliedOutputs: String {
        FormatRegistry.outputs.filter { !$0.description.destinationSuffixes.isEmpty }.map { output in
            output.description.destinationSuffixes.map { "NAME" + $0 }.joined(separator: " / ") + " is \(output.description.name)"
        }.joined(separator: ", ")
    }

    /// The typed options these flags ask for; combinations that cannot work are refused here, naming the flags.
    func conversionOptions() throws -> ConversionOptions {
        var options = ConversionOptions()
        // --onnx-layout names an ONNX folder, so it implies --to onnx.
        let outputID = format?.lowercased() ?? (onnxLayout != nil ? "onnx" : FormatRegistry.output(impliedBy: destination).description.id)
        guard FormatRegistry.output(id: outputID) != nil else {
            throw ValidationError("unknown --to '\(format ?? "")'; expected one of: \(FormatRegistry.outputs.map(\.description.id).joined(separator: ", "))")
        }
        let isGGUF = outputID == "gguf"
        let packing = outputID == "onnx" ? nil : PackedScheme(name: dtype, groupSize: groupSize)
        if packing != nil, !MLXAffine.groupSizes.contains(groupSize) { throw ValidationError("--group-size must be 32, 64 or 128") }
        if packing != nil, !["hf", "safetensors"].contains(outputID) {
            throw ModelError(kind: .invalidRequest, "--dtype \(dtype) packs weights in Hugging Face folder or safetensors output (--to hf | safetensors)")
        }
        var type: DType?
        if outputID == "onnx" {
            // The graph stores its own precision: f32 (or keep), f16 weights, int8 per-channel weights for MatMulInteger.
            let precision: ONNXPrecision
            switch dtype.lowercased() {
            case "keep", "f32", "fp32", "float32": precision = .fp32
            case "f16", "fp16", "float16", "half": precision = .fp16
            case "int8", "i8": precision = .int8
            default: throw ModelError(kind: .invalidRequest, "ONNX output takes --dtype f32, f16 or int8, not \(dtype)")
            }
            var layout = ONNXFolderLayout.optimum
            if let onnxLayout {
                guard let given = ONNXFolderLayout(rawValue: onnxLayout.lowercased()) else {
                    throw ValidationError("unknown --onnx-layout '\(onnxLayout)'; expected one of: \(ONNXFolderLayout.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                layout = given
            }
            guard let attention = ONNXAttention(rawValue: onnxAttention?.lowercased() ?? "standard") else {
                throw ModelError(kind: .invalidRequest, "--onnx-attention takes standard or ort, not \(onnxAttention ?? "")")
            }
            guard let activations = ONNXInt8Activations(rawValue: onnxInt8?.lowercased() ?? "smooth") else {
                throw ModelError(kind: .invalidRequest, "--onnx-int8 takes smooth, fast or per-token, not \(onnxInt8 ?? "")")
            }
            if onnxInt8 != nil, precision != .int8 { throw ModelError(kind: .invalidRequest, "--onnx-int8 applies to --dtype int8") }
            options.output = ONNXOutput(export: ONNXExportOptions(precision: precision, externalData: externalData ? .always : .automatic,
                                                                  layout: layout, attention: attention, int8Activations: activations))
        } else if packing == nil, dtype.lowercased() != "keep" {
            guard let parsed = DType(name: dtype) else { throw ValidationError("unknown --dtype '\(dtype)'") }
            type = parsed
        }
        if onnxLayout != nil, outputID != "onnx" { throw ModelError(kind: .invalidRequest, "--onnx-layout applies to ONNX output (--to onnx)") }
        if onnxLayout != nil, destination.lowercased().hasSuffix(".onnx") {
            throw ModelError(kind: .invalidRequest, "--onnx-layout lays out a folder DEST; \(destination) is one .onnx file")
        }
        if onnxAttention != nil, outputID != "onnx" { throw ModelError(kind: .invalidRequest, "--onnx-attention applies to ONNX output (--to onnx)") }
        if onnxInt8 != nil, outputID != "onnx" { throw ModelError(kind: .invalidRequest, "--onnx-int8 applies to ONNX output (--to onnx)") }
        if maxShardSize != nil, outputID != "hf" { throw ModelError(kind: .invalidRequest, "--max-shard-size applies to Hugging Face folder output (--to hf)") }
        if !isGGUF {
            for (flag, given) in [("--preset", preset != nil), ("--keep-f32", !keepF32.isEmpty), ("--tensor-type", !tensorTypes.isEmpty),
                                  ("--token-embedding-type", tokenEmbeddingType != nil)] where given {
                throw ModelError(kind: .invalidRequest, "\(flag) applies to GGUF output (--to gguf)")
            }
        }
        if dropHeads { options.transforms.append(.dropHeads) }
        if let keepLayers { options.transforms.append(.selectLayers(.first(keepLayers))) }
        if let layers { options.transforms.append(.selectLayers(.list(try Self.parseLayers(layers)))) }
        if let vocabFrom { options.transforms.append(.pruneVocabulary(corpus: vocabFrom)) }
        switch outputID {
        case "gguf":
            options.output = try ggufOutput(type: type)
        case "hf", "safetensors":
            if let type { options.transforms.append(.cast(type)) }
            var shardBytes: Int?
            if let maxShardSize {
                guard let bytes = parseByteSize(maxShardSize) else {
                    throw ValidationError("--max-shard-size '\(maxShardSize)' is not a size such as 500MB or 2GiB")
                }
                shardBytes = bytes
            }
            options.output = outputID == "hf" ? HuggingFaceOutput(maxShardBytes: shardBytes, packing: packing) : SafetensorsOutput(packing: packing)
        case "onnx":
            break
        default:
            if let type { options.transforms.append(.cast(type)) }
            options.output = FormatRegistry.output(id: outputID)
        }
        if let type, !isGGUF, !FloatCast.supported.contains(type) {
            throw ModelError(kind: .invalidRequest, "--dtype \(type.rawValue) is not available for --to \(outputID); casts: f32, f16, bf16, f64, keep"
                + (type.isQuantized ? " (quantized types are for GGUF output)" : ""))
        }
        options.quality = minCosine.map { .require(minimumCosine: $0) } ?? (noQuality ? .off : report != nil ? .always : .automatic)
        options.writing.existing = force ? .replace : .refuse
        options.load.strict = strict
        options.load.task = try task.options()
        options.load.weightsFile = weights
        return options
    }

    /// `GGUFOutput` for `--dtype`, `--preset`, the per-tensor rules and `--keep-heads`.
    func ggufOutput(type: DType?) throws -> GGUFOutput {
        func ggufType(_ type: DType, flag: String) throws -> GGUFType {
            guard let gguf = GGUFType(type) else {
                throw ModelError(kind: .invalidRequest, "\(flag) \(type.rawValue) is not available for GGUF; use \(GGUFType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return gguf
        }
        var types = GGUFTypes.uniform(try type.map { try ggufType($0, flag: "--dtype") } ?? .f32)
        if let preset {
            guard let parsed = GGUFPreset(rawValue: preset.lowercased()) else {
                throw ValidationError("unknown --preset '\(preset)'; presets: \(GGUFPreset.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            types = .preset(parsed)
        }
        var rules = try keepF32.map { try TypeRule(pattern: $0, type: .f32) }
        for rule in tensorTypes {
            guard let equals = rule.lastIndex(of: "="), let type = DType(name: String(rule[rule.index(after: equals)...])) else {
                throw ValidationError("--tensor-type takes REGEX=TYPE, such as 'attn_v=q8_0'")
            }
            rules.append(try TypeRule(pattern: String(rule[..<equals]), type: try ggufType(type, flag: "--tensor-type")))
        }
        if let tokenEmbeddingType {
            guard let type = DType(name: tokenEmbeddingType) else { throw ValidationError("unknown --token-embedding-type '\(tokenEmbeddingType)'") }
            rules.append(try TypeRule(pattern: #"^token_embd\.weight$"#, type: try ggufType(type, flag: "--token-embedding-type")))
        }
        return GGUFOutput(types: types, rules: rules, keepHeads: keepHeads)
    }

    func run() throws {
        let options = try conversionOptions()
        let console = Console.current
        let start = ContinuousClock.now
        // The report's file is claimed before any work, so a report that cannot be written (it exists, its folder
        // cannot be made) stops the run before the model is written.
        let reportFile = try report.map { try AtomicFile(destination: $0, existing: force ? .replace : .refuse) }
        let result: ConversionReport
        do {
            result = try ConvertCommand.withProgress(console: console, source: source, destination: destination, options: options) { options in
                try Converter.convert(source: source, destination: destination, options: options)
            }
        } catch let error as ModelError where error.cause is NonFiniteValue {
            throw Self.advising(error, packed: PackedScheme(name: dtype, groupSize: groupSize) != nil)
        }
        let elapsed = ContinuousClock.now - start
        if let file = reportFile, let report {
            let bytes: [UInt8]
            if VerifyCommand.isHTML(report) {
                let source = try ModelLoader.load(self.source, options: options.load)
                let document = Reporting.conversion(result, source: source, output: try? ModelLoader.load(destination),
                                                    generator: "modelport \(ModelPortCommand.configuration.version)")
                bytes = Array(ReportPage.html(document).utf8)
            } else {
                bytes = Array(Self.qualityJSON(result).serialized(.pretty).utf8)
            }
            try file.write(bytes)
            try file.commit()
        }
        if json {
            console.out(reportJSON(result, elapsed: elapsed).serialized(.pretty))
            return
        }
        console.out("wrote \(result.destination) (\(result.format.id)): \(result.tensorCount) tensors, "
            + "\(formatBytes(result.bytesWritten)) in \(result.files.count) file\(result.files.count == 1 ? "" : "s"), "
            + ModelPortFormatting.seconds(elapsed))
        if let kept = result.layersKept {
            let saved = result.parametersBefore - result.parametersAfter
            let percent = result.parametersBefore > 0 ? Double(saved) * 100 / Double(result.parametersBefore) : 0
            console.out("layers: kept \(kept.map(String.init).joined(separator: ",")) of \(result.layersBefore ?? 0), renumbered 0…\(kept.count - 1); "
                + "parameters \(formatCount(result.parametersBefore)) → \(formatCount(result.parametersAfter)) "
                + "(−\((percent * 10).rounded() / 10)%)")
        }
        if let dropped = droppedSummary(result.dropped) { console.out("dropped " + dropped) }
        for note in result.notes { console.out("note: \(note)") }
        if !result.tensorQuality.isEmpty {
            let worst = result.tensorQuality.min { $0.cosineSimilarity < $1.cosineSimilarity }!
            let meanRMS = result.tensorQuality.reduce(0.0) { $0 + $1.rmsError } / Double(result.tensorQuality.count)
            console.out("quality: \(result.tensorQuality.count) tensors changed type; mean RMS error \(String(format4: meanRMS)); "
                + "worst cosine \(String(format6: worst.cosineSimilarity)) (\(worst.name), \(worst.dtype.rawValue))")
        }
        if let parity = result.parity {
            console.out("end-to-end: last hidden state cosine \(String(format6: parity.last.cosineSimilarity)), "
                + "max |error| \(String(format4: parity.last.maxAbsError)) over \(parity.layers.count - 1) layers"
                + (parity.passed ? "" : " (below the default tolerance \(parity.tolerance.description))"))
            for head in parity.heads where head.name != "pooler_output" {
                console.out("end-to-end: \(head.name) cosine \(String(format6: head.cosineSimilarity)), max |error| \(String(format4: head.maxAbsError))")
            }
            for agreement in parity.agreements { console.out("end-to-end: " + agreement.description) }
        }
    }

    /// A NaN / Inf weight refused by a quantizer, with the option that gets past it: GGUF can keep that tensor in
    /// F32; packed schemes have no per-tensor exception, so only a float `--dtype` writes such a model.
    static func advising(_ error: ModelError, packed: Bool) -> ModelError {
        var error = error
        if packed {
            error.reason += " (a float --dtype such as f16 keeps it as it is)"
        } else if case .tensor(let name)? = error.location {
            let pattern = "^" + name.replacing(".", with: "\\.") + "$"
            error.reason += "; use --keep-f32 '\(pattern)' to keep it unquantized"
        }
        return error
    }

    /// `path` made absolute and normalised (`.` and `..` resolved by name), to tell whether two paths are one file.
    private func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// `0,1,2`, `0-2`, `0-2,5,11` → the layer numbers in order.
    static func parseLayers(_ text: String) throws -> [Int] {
        var layers: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: " ")) }
            switch bounds.count {
            case 1 where bounds[0].map({ $0 >= 0 }) == true:
                layers.append(bounds[0]!)
            case 2 where bounds[0] != nil && bounds[1] != nil && bounds[0]! >= 0 && bounds[0]! <= bounds[1]!
                && bounds[1]! - bounds[0]! < Model.maximumSelectedLayers:
                layers += Array(bounds[0]!...bounds[1]!)
            default:
                throw ValidationError("--layers takes comma-separated layer numbers or ranges such as 0,1,2 or 0-2,5 "
                                      + "(at most \(Model.maximumSelectedLayers) layers)")
            }
            guard layers.count <= Model.maximumSelectedLayers else {
                throw ValidationError("--layers names more than \(Model.maximumSelectedLayers) layers")
            }
        }
        return layers
    }

    /// Runs `body` with a progress line sized from the planned output (headers read once more, cheaply;
    /// transforms are lazy, so planning computes nothing).
    static func withProgress<R>(
        console: Console, source: String, destination: String, options: ConversionOptions, _ body: (ConversionOptions) throws -> R
    ) throws -> R {
        guard console.isInteractive, let model = try? Converter.plan(source: source, destination: destination, options: options) else {
            return try body(options)
        }
        let progress = ProgressLine(console: console, label: "converting", totalTensors: model.tensors.count,
                                    totalBytes: model.byteCount ?? 0)
        var options = options
        options.writing.progress = { _, bytes in progress.advance(bytes: bytes) }
        defer { progress.finish() }
        return try body(options)
    }

    static func qualityJSON(_ report: ConversionReport) -> JSON {
        var members: [(key: String, value: JSON)] = [
            ("tensors", .array(report.tensorQuality.map { q in
                .object([("name", .string(q.name)), ("dtype", .string(q.dtype.rawValue)), ("rms_error", .double(q.rmsError)),
                         ("max_error", .double(q.maxError)), ("cosine_similarity", .double(q.cosineSimilarity))])
            })),
        ]
        if let parity = report.parity { members.append(("end_to_end", VerifyCommand.json(parity))) }
        return .object(members)
    }

    private func reportJSON(_ report: ConversionReport, elapsed: Duration) -> JSON {
        var json = Self.summaryJSON(report, elapsed: elapsed)
        if !report.tensorQuality.isEmpty || report.parity != nil, case .object(var members) = json {
            members.append(("quality", Self.qualityJSON(report)))
            json = .object(members)
        }
        return json
    }

    private static func summaryJSON(_ report: ConversionReport, elapsed: Duration) -> JSON {
        .object([
            ("source", .string(report.source)),
            ("source_format", .string(report.sourceLayout)),
            ("destination", .string(report.destination)),
            ("format", .string(report.format.id)),
            ("files", .array(report.files.map(JSON.string))),
            ("tensor_count", .integer(report.tensorCount)),
            ("bytes_written", .integer(report.bytesWritten)),
            ("seconds", .double(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)),
            ("dropped", .array(report.dropped.map {
                .object([("name", .string($0.name)), ("reason", .string($0.reason)), ("bytes", .integer($0.byteCount))])
            })),
            ("notes", .array(report.notes.map { .string($0.text) })),
        ])
    }
}

extension String {
    init(format4 value: Double) {
        self = value == 0 ? "0" : (abs(value) < 1e-3 ? String(Float(value)) : String((value * 10000).rounded() / 10000))
    }

    init(format6 value: Double) {
        self = String((value * 1_000_000).rounded() / 1_000_000)
    }
}
