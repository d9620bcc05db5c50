import BinaryIO
import ModelIR
import ModelPort
@testable import ModelPortCLI
import SafetensorsFormat
import TestSupport
import Testing

/// Runs the CLI in-process and returns its exit status and what it printed.
func run(_ arguments: String...) -> (status: Int32, out: String, err: String) {
    let console = Console.capturing()
    let status = Console.$current.withValue(console) { ModelPortCommand.execute(arguments) }
    return (status, console.capturedOutput, console.capturedError)
}

@Suite struct InspectCommandTests {
    @Test func printsFormatConfigAndTensors() {
        let result = run("inspect", Samples.path("bert-tiny"))
        #expect(result.status == 0)
        #expect(result.out.contains("format:       Hugging Face folder (safetensors)"))
        #expect(result.out.contains("architecture: bert"))
        #expect(result.out.contains("hidden_size=32 num_hidden_layers=4 num_attention_heads=4"))
        #expect(result.out.contains("tensors:      71 (71 f32)"))
        #expect(result.out.contains("parameters:   40,096"))
        #expect(result.out.contains("embeddings.word_embeddings.weight                  f32    [84, 32]  10752"))
        #expect(result.err.isEmpty)
    }

    @Test func printsOneJSONObject() throws {
        let result = run("inspect", Samples.path("bert-tiny-sharded"), "--json")
        #expect(result.status == 0)
        let json = try JSON.parse(Array(result.out.utf8))
        #expect(json["architecture"] == .string("bert"))
        #expect(json["tensor_count"]?.intValue == 71)
        #expect(json["parameter_count"]?.intValue == 40_096)
        #expect(json["total_bytes"]?.intValue == 160_384)
        #expect(json["config"]?["num_hidden_layers"]?.intValue == 4)
        let first = try #require(json["tensors"]?.arrayValue?.first)
        #expect(first["name"] == .string("embeddings.LayerNorm.bias"))
        #expect(first["shape"] == .array([.number("32")]))
    }

    @Test(arguments: ["overlap", "truncated", "header-too-large", "non-utf8", "duplicate-name", "unknown-dtype"])
    func brokenInputIsOneErrorLineAndStatusOne(name: String) {
        let path = Samples.path("broken/safetensors/\(name).safetensors")
        let result = run("inspect", path)
        #expect(result.status == 1)
        #expect(result.out.isEmpty)
        #expect(result.err.hasPrefix("error: \(path): "))
        #expect(result.err.filter { $0 == "\n" }.count == 1)
    }
}

@Suite struct ConvertCommandTests {
    @Test func convertsCastsTruncatesAndReports() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let out = folder.file("rbt2")
        let result = run("convert", Samples.path("bert-tiny"), out, "--dtype", "f16", "--keep-layers", "2")
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("wrote \(out) (hf): 39 tensors, 44.9 KiB in 5 files"))
        #expect(result.out.contains("dropped 32 tensors (66.8 KiB): 16 × layer 2 not selected, 16 × layer 3 not selected"))
        let inspected = run("inspect", out, "--json")
        let json = try JSON.parse(Array(inspected.out.utf8))
        #expect(json["config"]?["num_hidden_layers"]?.intValue == 2)
        #expect(json["dtypes"] == .object([("f16", .number("39"))]))
    }

    @Test func jsonReportAndExplicitTarget() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let result = run("convert", Samples.path("bert-tiny"), folder.file("plain"), "--to", "safetensors", "--layers", "0,2", "--json")
        #expect(result.status == 0, "\(result.err)")
        let json = try JSON.parse(Array(result.out.utf8))
        #expect(json["format"] == .string("safetensors"))
        #expect(json["tensor_count"]?.intValue == 39)
        #expect(json["dropped"]?.arrayValue?.count == 32)
        let (tensors, _) = try SafetensorsReader.read(path: folder.file("plain"))
        #expect(tensors.count == 39)
    }

    @Test func refusesToOverwriteWithoutForce() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let out = folder.file("m.safetensors")
        #expect(run("convert", Samples.path("bert-tiny"), out).status == 0)
        let again = run("convert", Samples.path("bert-tiny"), out)
        #expect(again.status == 1)
        #expect(again.err == "error: \(out): already exists (use --force to replace it)\n")
        #expect(run("convert", Samples.path("bert-tiny"), out, "--force", "--dtype", "bf16").status == 0)
    }

    static let usageErrors: [([String], String)] = [
        (["convert", "a", "b", "--dtype", "f17"], "unknown --dtype 'f17'"),
        (["convert", "a", "b", "--keep-layers", "2", "--layers", "0,1"], "use either --keep-layers or --layers"),
        (["convert", "a", "b", "--to", "tflite"], "unknown --to 'tflite'"),
        (["convert", "a", "b", "--layers", "0,x"], "--layers takes comma-separated layer numbers"),
        (["convert", "a", "b", "--max-shard-size", "big"], "--max-shard-size 'big' is not a size"),
        (["convert", "a"], "Missing expected argument '<destination>'"),
        (["frobnicate"], "Unexpected argument 'frobnicate'"),
    ]

    @Test(arguments: usageErrors)
    func usageErrorsExitWith64(arguments: [String], message: String) {
        let console = Console.capturing()
        let status = Console.$current.withValue(console) { ModelPortCommand.execute(arguments) }
        #expect(status == 64)
        #expect(console.capturedError.contains(message), "\(console.capturedError)")
    }

    @Test func operationalErrorsExitWith1() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let cases: [[String]] = [
            ["convert", Samples.path("bert-tiny"), folder.file("x"), "--keep-layers", "9"],
            ["convert", Samples.path("bert-tiny"), folder.file("x"), "--dtype", "q4_k"],
            ["convert", Samples.path("bert-tiny"), folder.file("x.gguf"), "--dtype", "i8"],
            ["convert", Samples.path("bert-tiny"), folder.file("x.safetensors"), "--max-shard-size", "1MB"],
            ["convert", Samples.path("missing"), folder.file("x")],
        ]
        for arguments in cases {
            let console = Console.capturing()
            let status = Console.$current.withValue(console) { ModelPortCommand.execute(arguments) }
            #expect(status == 1, "\(arguments)")
            #expect(console.capturedError.hasPrefix("error: ") && console.capturedError.filter { $0 == "\n" }.count == 1)
        }
        #expect(folder.contents().isEmpty)
    }

    @Test func helpTeaches() {
        let result = run("convert", "--help")
        #expect(result.status == 0)
        #expect(result.out.contains("--keep-layers <N>"))
        #expect(result.out.contains("RBT3"))
        #expect(run("--version").out.contains("0.1.0"))
    }
}

@Suite struct LayerListTests {
    @Test func convertSummarizesATruncation() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let result = run("convert", Samples.path("bert-tiny"), folder.file("x"), "--layers", "0-1,3")
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("layers: kept 0,1,3 of 4, renumbered 0…2; parameters 40,096 → 31,552 (−21.3%)"))
        #expect(run("convert", Samples.path("bert-tiny"), folder.file("y"), "--layers", "2-1").status == 64)
        let bad = run("convert", Samples.path("bert-tiny"), folder.file("z"), "--layers", "0,9")
        #expect(bad.status == 1 && bad.err.contains("layer 9 does not exist; the model has layers 0...3"))
    }
}

@Suite struct QualityReportTests {
    @Test func quantizingReportsPerTensorAndEndToEnd() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let result = run("convert", Samples.path("bert-tiny"), folder.file("m.gguf"), "--dtype", "q4_0", "--report", folder.file("r.json"))
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("quality: 25 tensors changed type"))
        #expect(result.out.contains("end-to-end: last hidden state cosine 0.99"))
        let json = try JSON.parse(contentsOf: folder.file("r.json"))
        let tensors = try #require(json["tensors"]?.arrayValue)
        #expect(tensors.count == 25 && tensors.allSatisfy { ($0["cosine_similarity"]?.doubleValue ?? 0) > 0.99 })
        #expect(json["end_to_end"]?["layers"]?.arrayValue?.count == 5)
    }

    @Test func minCosineRefusesAndKeepsTheOldOutput() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let out = folder.file("m.gguf")
        #expect(run("convert", Samples.path("bert-tiny"), out, "--dtype", "q8_0", "--min-cosine", "0.999").status == 0)
        let before = try MappedFile(path: out).withBytes { Array($0) }
        let refused = run("convert", Samples.path("bert-tiny"), out, "--dtype", "q4_0", "--min-cosine", "0.9999", "--force")
        #expect(refused.status == 1)
        #expect(refused.err.contains("is below the required 0.9999; nothing was written (--min-cosine)"))
        #expect(folder.contents() == ["m.gguf"])
        #expect(try MappedFile(path: out).withBytes { Array($0) } == before)
    }
}

@Suite struct TypePolicyTests {
    @Test func overridesAndPresetsChooseTypesPerTensor() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        #expect(run("convert", Samples.path("bert-tiny"), folder.file("t.gguf"), "--dtype", "q4_0", "--keep-f32", "attn_q",
                    "--tensor-type", "ffn_up=q8_0").status == 0)
        let model = try ModelLoader.load(folder.file("t.gguf"))
        #expect(model["encoder.layer.2.attention.self.query.weight"]?.dtype == .f32)
        #expect(model["encoder.layer.2.intermediate.dense.weight"]?.dtype == .q8_0)
        #expect(model["encoder.layer.2.attention.self.key.weight"]?.dtype == .q4_0)

        #expect(run("convert", Samples.path("bert-tiny"), folder.file("m.gguf"), "--preset", "mixed-q4").status == 0)
        let mixed = try ModelLoader.load(folder.file("m.gguf"))
        #expect(mixed["embeddings.word_embeddings.weight"]?.dtype == .q8_0)
        #expect(mixed["encoder.layer.0.attention.self.value.weight"]?.dtype == .q8_0)
        #expect(mixed["encoder.layer.3.output.dense.weight"]?.dtype == .q8_0)
        #expect(mixed["encoder.layer.1.output.dense.weight"]?.dtype == .q5_1)
        #expect(mixed["encoder.layer.1.attention.self.query.weight"]?.dtype == .q4_0)
        #expect(run("convert", Samples.path("bert-tiny"), folder.file("x.safetensors"), "--keep-f32", "a").status == 1)
        // Packing is a Hugging Face folder / safetensors option: a GGUF destination refuses it, writing nothing.
        let packed = run("convert", Samples.path("bert-tiny"), folder.file("p.gguf"), "--dtype", "int8")
        #expect(packed.status == 1 && packed.err.contains("packs weights in Hugging Face folder or safetensors output"))
        #expect(!fileExists(folder.file("p.gguf")))
        #expect(run("convert", Samples.path("bert-tiny"), folder.file("y.gguf"), "--tensor-type", "nope").status == 64)
    }
}

@Suite struct NonFiniteAdviceTests {
    /// The library's error names the tensor and element; the CLI adds the option that gets past it.
    @Test func quantizingANaNWeightSuggestsKeepF32() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (tensors, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        let poisoned = tensors.map { tensor -> Tensor in
            guard tensor.name == "encoder.layer.0.output.dense.weight", let bytes = try? tensor.withBytes({ Array($0) }) else { return tensor }
            var copy = bytes
            withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { copy.replaceSubrange(40..<44, with: $0) }
            return Tensor(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, data: .owned(TensorBuffer(copy)))
        }
        let model = folder.file("nan")
        try makeFolders(model)
        for name in ["config.json", "vocab.txt"] {
            let file = try AtomicFile(destination: model + "/" + name)
            try file.write(try Samples.bytes("bert-tiny/" + name))
            try file.commit()
        }
        try SafetensorsWriter.write(poisoned, metadata: Metadata(), to: model + "/model.safetensors")
        let result = run("convert", model, folder.file("m.gguf"), "--dtype", "q8_0")
        #expect(result.status == 1)
        #expect(result.err.contains("tensor 'blk.0.ffn_down.weight': element 10 is NaN; quantizing it to Q8_0 would hide it; use --keep-f32 '^blk\\.0\\.ffn_down\\.weight$' to keep it unquantized"), "\(result.err)")
        #expect(result.err.filter { $0 == "\n" }.count == 1)
        let kept = run("convert", model, folder.file("k.gguf"), "--dtype", "q8_0",
                       "--keep-f32", #"^blk\.0\.ffn_down\.weight$"#, "--no-quality")
        #expect(kept.status == 0, "\(kept.err)")
    }
}

@Suite struct TokenizeCommandTests {
    @Test func printsTokensAndIdsWithSpecialTokensSplitOut() throws {
        let text = "巴黎是[MASK]国的首都"
        let result = run("tokenize", Samples.path("tokenizers/bert-uncased"), "--text", text)
        #expect(result.status == 0)
        #expect(result.out.contains("BertTokenizer"))
        // What transformers' BertTokenizer gives (Samples/tokenizers/bert-uncased.json); 是, 国, 的 are not in this vocabulary.
        let goldens = try JSON.parse(contentsOf: Samples.path("tokenizers/bert-uncased.json"))["cases"]?.arrayValue ?? []
        let golden = try #require(goldens.first { $0["text"]?.stringValue == text && $0["pair"] == nil })
        let tokens = golden["tokens"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let ids = golden["input_ids"]?.arrayValue?.compactMap(\.intValue) ?? []
        #expect(tokens == ["[CLS]", "巴", "黎", "[UNK]", "[MASK]", "[UNK]", "[UNK]", "首", "都", "[SEP]"])
        #expect(result.out.contains("tokens: " + tokens.joined(separator: " ")))
        #expect(result.out.contains("ids:    " + ids.map(String.init).joined(separator: " ")))
    }

    @Test func printsTheIssueJSONShape() throws {
        let result = run("tokenize", Samples.path("tokenizers/albert"), "--text", "x[MASK]y", "--text", "hello",
                         "--pair", "a pair", "--pair", "b", "--json")
        #expect(result.status == 0)
        let json = try JSON.parse(Array(result.out.utf8))
        #expect(json.objectValue?.map(\.key) == ["input_ids", "tokens", "attention_mask", "token_type_ids"])
        #expect(json["input_ids"]?.arrayValue?.count == 2)
        #expect(json["tokens"]?.arrayValue?.first?.arrayValue?.prefix(7).map { $0.stringValue ?? "" } == ["[CLS]", "▁", "x", "[MASK]", "▁", "y", "[SEP]"])
        #expect(json["attention_mask"]?.arrayValue?.map { $0.arrayValue?.count } == json["input_ids"]?.arrayValue?.map { $0.arrayValue?.count })
    }

    @Test func aFolderWithoutTokenizerFilesIsOneErrorLine() {
        let result = run("tokenize", Samples.path("safetensors"), "--text", "x")
        #expect(result.status == 1)
        #expect(result.err.hasPrefix("error: "))
        #expect(result.err.split(separator: "\n").count == 1)
    }

    @Test func aModelFileUsesTheTokenizerFilesBesideIt() {
        let file = run("tokenize", Samples.path("bert-tiny/model.safetensors"), "--text", "the model is fast", "--json")
        let folder = run("tokenize", Samples.path("bert-tiny"), "--text", "the model is fast", "--json")
        #expect(file.status == 0)
        #expect(file.out == folder.out)
    }

    @Test func pairsMustMatchTexts() {
        let result = run("tokenize", Samples.path("tokenizers/roberta"), "--text", "a", "--text", "b", "--pair", "c")
        #expect(result.status == 64)
    }
}

@Suite struct ByteSizeTests {
    @Test func parsesShardSizes() {
        #expect(parseByteSize("5GB") == 5_000_000_000)
        #expect(parseByteSize("2GiB") == 2 << 30)
        #expect(parseByteSize("500MB") == 500_000_000)
        #expect(parseByteSize("20kb") == 20_000)
        #expect(parseByteSize("1.5MB") == 1_500_000)
        #expect(parseByteSize("123") == 123)
        #expect(parseByteSize("0") == nil)
        #expect(parseByteSize("lots") == nil)
        #expect(parseByteSize("-5MB") == nil)
    }
}

/// The format lists people read come from the registry: `--help`, README.md's table and the documentation's.
@Suite struct FormatListTests {
    @Test(arguments: ["README.md", "Sources/ModelPort/ModelPort.docc/Formats.md"])
    func copiesOfTheTableEqualTheRegistry(file: String) throws {
        let text = String(decoding: try MappedFile(path: Samples.path("../" + file)).withBytes { Array($0) }, as: UTF8.self)
        #expect(text.contains(FormatRegistry.markdownTable), "\(file): paste the output of `modelport formats --markdown`")
    }

    @Test func helpNamesEveryFormat() {
        let help = run("--help").out + run("convert", "--help").out
        for format in FormatRegistry.formats {
            #expect(help.contains(format.name), "\(format.name)")
        }
        #expect(run("formats", "--markdown").out == FormatRegistry.markdownTable)
    }
}

@Suite struct ONNXLayoutCommandTests {
    /// `--onnx-layout transformers.js` implies `--to onnx` for a folder DEST and puts the graph in onnx/.
    @Test func transformersJSLayoutWritesOnnxFolder() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let result = run("convert", Samples.path("bert-tiny"), folder.file("web"), "--onnx-layout", "transformers.js", "--dtype", "f16")
        #expect(result.status == 0, "\(result.err)")
        #expect(fileExists(folder.file("web") + "/onnx/model_fp16.onnx"))
        #expect(fileExists(folder.file("web") + "/config.json"))
    }

    @Test func aLayoutForOneOnnxFileIsRefused() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let result = run("convert", Samples.path("bert-tiny"), folder.file("m.onnx"), "--onnx-layout", "transformers.js")
        #expect(result.status != 0)
        #expect(result.err.contains("--onnx-layout"))
        #expect(folder.contents().isEmpty)
    }

    @Test func anUnknownLayoutIsAUsageError() {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let result = run("convert", Samples.path("bert-tiny"), folder.file("web"), "--onnx-layout", "tfjs")
        #expect(result.status != 0)
        #expect(result.err.contains("--onnx-layout"))
        #expect(folder.contents().isEmpty)
    }
}

@Suite struct ONNXInt8FormCommandTests {
    /// `--onnx-int8 fast` writes DynamicQuantizeLinear before each MatMulInteger, the default (smooth) too with its
    /// `.input_smooth` multipliers, `--onnx-int8 per-token` neither.
    @Test func eachFormWritesItsOwnQuantization() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = Samples.path("bert-tiny")
        for result in [run("convert", source, folder.file("f.onnx"), "--dtype", "int8", "--onnx-int8", "fast"),
                       run("convert", source, folder.file("s.onnx"), "--dtype", "int8"),
                       run("convert", source, folder.file("t.onnx"), "--dtype", "int8", "--onnx-int8", "per-token")] {
            #expect(result.status == 0, "\(result.err)")
        }
        func holds(_ path: String, _ text: String) throws -> Bool {
            let marker = Array(text.utf8)
            let bytes = try MappedFile(path: path).withBytes { Array($0) }
            return bytes.count >= marker.count && (0...(bytes.count - marker.count)).contains { bytes[$0..<($0 + marker.count)].elementsEqual(marker) }
        }
        #expect(try holds(folder.file("f.onnx"), "DynamicQuantizeLinear") && !holds(folder.file("f.onnx"), ".input_smooth"))
        #expect(try holds(folder.file("s.onnx"), "DynamicQuantizeLinear") && holds(folder.file("s.onnx"), ".input_smooth"))
        #expect(try !holds(folder.file("t.onnx"), "DynamicQuantizeLinear"))
        #expect(try ModelLoader.load(folder.file("f.onnx")).expandedFrom == .i8)
    }

    @Test(arguments: [["--onnx-int8", "fastest", "--dtype", "int8"], ["--onnx-int8", "fast"], ["--onnx-int8", "fast", "--dtype", "f16"]])
    func aWrongFormOrPrecisionIsRefused(extra: [String]) {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let console = Console.capturing()
        let status = Console.$current.withValue(console) {
            ModelPortCommand.execute(["convert", Samples.path("bert-tiny"), folder.file("m.onnx")] + extra)
        }
        let result = (status: status, err: console.capturedError)
        #expect(result.status != 0)
        #expect(result.err.contains("--onnx-int8"))
        #expect(folder.contents().isEmpty)
    }
}
