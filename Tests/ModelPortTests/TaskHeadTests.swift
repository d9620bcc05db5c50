import BinaryIO
import GGUFFormat
import ModelIR
import ModelPort
import SafetensorsFormat
import TestSupport
import Testing
import Transforms
import Verifier

/// Fine-tuned heads (issue 13): the samples in Samples/heads were written by TensorFlow (Google's run_classifier.py /
/// run_squad.py variable names, Adam slots included), Paddle, transformers and sentence-transformers; each golden holds
/// the head outputs transformers (or sentence-transformers) computed on the same weights.
@Suite struct TaskHeadTests {
    struct Case: Sendable, CustomStringConvertible {
        var sample: String
        var golden: String
        var task: HeadKind?
        /// (our output name, golden tensor name)
        var outputs: [(String, String)]
        var head: HeadKind
        var className: String
        var description: String { "\(sample) \(task?.rawValue ?? "")" }
    }

    static let cases: [Case] = [
        Case(sample: "heads/bert-classifier-tf1", golden: "heads/bert-classifier.golden.safetensors", task: nil,
             outputs: [("logits", "logits")], head: .sequenceClassification, className: "BertForSequenceClassification"),
        Case(sample: "heads/bert-classifier-tf1", golden: "heads/bert-classifier.golden.safetensors", task: .tokenClassification,
             outputs: [("logits", "token_logits")], head: .tokenClassification, className: "BertForTokenClassification"),
        Case(sample: "heads/bert-squad-tf1", golden: "heads/bert-squad.golden.safetensors", task: nil,
             outputs: [("start_logits", "start_logits"), ("end_logits", "end_logits")], head: .questionAnswering,
             className: "BertForQuestionAnswering"),
        Case(sample: "heads/albert-classifier-tf1", golden: "heads/albert-classifier.golden.safetensors", task: nil,
             outputs: [("logits", "logits")], head: .sequenceClassification, className: "AlbertForSequenceClassification"),
        Case(sample: "heads/paddle-classifier", golden: "heads/bert-classifier.golden.safetensors", task: nil,
             outputs: [("logits", "logits")], head: .sequenceClassification, className: "BertForSequenceClassification"),
        Case(sample: "heads/bert-reranker", golden: "heads/bert-reranker.golden.safetensors", task: nil,
             outputs: [("logits", "logits")], head: .reranker, className: "BertForSequenceClassification"),
        Case(sample: "heads/roberta-classifier", golden: "heads/roberta-classifier.golden.safetensors", task: nil,
             outputs: [("logits", "logits")], head: .sequenceClassification, className: "RobertaForSequenceClassification"),
        Case(sample: "tensorflow/bert-tiny-tf1", golden: "heads/bert-pretraining.golden.safetensors", task: nil,
             outputs: [("prediction_logits", "prediction_logits"), ("seq_relationship_logits", "seq_relationship_logits")],
             head: .preTraining, className: "BertForPreTraining"),
        Case(sample: "heads/sbert-tiny", golden: "heads/sbert-tiny.golden.safetensors", task: nil,
             outputs: [("sentence_embedding", "sentence_embedding")], head: .sentenceEmbedding, className: "BertModel"),
    ]

    static func golden(_ path: String) throws -> (inputs: EncoderInputs, tensors: [String: [Float]]) {
        let (tensors, _) = try SafetensorsReader.read(path: Samples.path(path))
        var floats: [String: [Float]] = [:]
        for t in tensors where t.dtype == .f32 {
            floats[t.name] = try t.withBytes { bytes in (0..<(t.info.elementCount ?? 0)).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
        }
        return (try EncoderInputs(tensors: tensors), floats)
    }

    static func expectClose(_ ours: [Float], _ theirs: [Float], _ what: String, tolerance: Float = 1e-5) {
        #expect(ours.count == theirs.count, "\(what): \(ours.count) values, golden \(theirs.count)")
        let worst = zip(ours, theirs).map { abs($0 - $1) - tolerance * abs($1) }.max() ?? 0
        #expect(worst <= tolerance, "\(what): worst |error| beyond 1e-5 by \(worst)")
    }

    @Test(arguments: cases)
    func headOutputsEqualTransformers(_ c: Case) throws {
        let model = try ModelLoader.load(Samples.path(c.sample), options: LoadOptions(task: TaskOptions(head: c.task)))
        #expect(model.task.head == c.head)
        let (inputs, golden) = try Self.golden(c.golden)
        let output = try Verification.forward(model, inputs: inputs)
        for (ours, theirs) in c.outputs {
            let head = try #require(output.heads.first { $0.name == ours }, "no \(ours)")
            Self.expectClose(head.values, try #require(golden[theirs]), "\(c.sample) \(ours)")
        }
    }

    /// The Hugging Face folder names the class and labels, holds the class's tensor names, and runs to the same outputs.
    @Test(arguments: cases)
    func huggingFaceFolderKeepsTheHead(_ c: Case) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var options = ConversionOptions()
        options.load.task = TaskOptions(head: c.task)
        _ = try Converter.convert(source: Samples.path(c.sample), destination: folder.file("hf"), options: options)
        let config = try ModelConfig(contentsOf: folder.file("hf/config.json"))
        #expect(config["architectures"]?.arrayValue?.first?.stringValue == c.className)
        let reread = try ModelLoader.load(folder.file("hf"))
        #expect(reread.task.head == c.head)
        let names = Set(reread.tensors.map(\.name))
        switch c.head {
        case .questionAnswering: #expect(names.contains("qa_outputs.weight") && !names.contains { $0.contains("pooler") })
        case .tokenClassification: #expect(names.contains("classifier.weight") && !names.contains { $0.contains("pooler") })
        case .sequenceClassification, .reranker:
            if c.className.hasPrefix("Roberta") {
                #expect(names.contains("classifier.out_proj.weight") && !names.contains { $0.contains("pooler") })
            } else {
                #expect(names.contains("classifier.weight") && names.contains { $0.hasSuffix("pooler.dense.weight") || $0 == "albert.pooler.weight" })
            }
            #expect(names.allSatisfy { $0.hasPrefix("bert.") || $0.hasPrefix("albert.") || $0.hasPrefix("roberta.") || $0.hasPrefix("classifier.") })
        default: break
        }
        if c.head == .sentenceEmbedding {
            #expect(folder.contents("hf").contains("modules.json"))
            #expect(FileManagerFree.exists(folder.file("hf/2_Dense/model.safetensors")))
        }
        let (inputs, golden) = try Self.golden(c.golden)
        let output = try Verification.forward(reread, inputs: inputs)
        for (ours, theirs) in c.outputs {
            let head = try #require(output.heads.first { $0.name == ours })
            Self.expectClose(head.values, try #require(golden[theirs]), "\(c.sample) → hf \(ours)")
        }
    }

    @Test func labelsComeFromTheCommandLineOrAreNamed() throws {
        let named = try ModelLoader.load(Samples.path("heads/bert-classifier-tf1"),
                                         options: LoadOptions(task: TaskOptions(labels: ["negative", "neutral", "positive"])))
        #expect(named.task.labels == ["negative", "neutral", "positive"])
        #expect(named.config["label2id"]?["positive"]?.intValue == 2)
        let unnamed = try ModelLoader.load(Samples.path("heads/bert-classifier-tf1"))
        #expect(unnamed.task.labels == ["LABEL_0", "LABEL_1", "LABEL_2"])
        #expect(unnamed.notes.contains { $0.text.contains("LABEL_0") } && unnamed.notes.contains { $0.text.contains("token-classification task") })
    }

    @Test func aHeadThatDisagreesWithTheLabelsIsAnError() {
        #expect(throws: ModelError.self) {
            try ModelLoader.load(Samples.path("heads/bert-classifier-tf1"), options: LoadOptions(task: TaskOptions(labels: ["a", "b"])))
        }
        #expect(throws: ModelError.self) {  // a classifier's tensors cannot answer questions
            try ModelLoader.load(Samples.path("heads/bert-classifier-tf1"), options: LoadOptions(task: TaskOptions(head: .questionAnswering)))
        }
    }

    /// A class without a head kind here (BertForMultipleChoice) keeps its name, tensors and config.
    @Test func anUnknownTaskClassIsKept() throws {
        var model = try ModelLoader.load(Samples.path("heads/bert-reranker"))
        model.config["architectures"] = .array([.string("BertForMultipleChoice")])
        let kept = try model.applyingTask()
        #expect(kept.config["architectures"]?.arrayValue?.first?.stringValue == "BertForMultipleChoice")
        #expect(kept.tensors.map(\.name) == model.tensors.map(\.name))
    }

    @Test func aHeadWiderThanTheEncoderIsAnError() throws {
        var model = try ModelLoader.load(Samples.path("heads/bert-classifier-tf1"))
        model.config.hiddenSize = 32
        #expect(throws: ModelError.self) { try model.applyingTask() }
    }

    /// verify compares the heads and says whether the decisions agree.
    @Test func verifyComparesHeadsAndDecisions() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let options = ConversionOptions(transforms: [.cast(.f16)])
        _ = try Converter.convert(source: Samples.path("heads/bert-squad-tf1"), destination: folder.file("qa16"), options: options)
        let reference = try ModelLoader.load(Samples.path("heads/bert-squad-tf1"))
        let candidate = try ModelLoader.load(folder.file("qa16"))
        let (inputs, _) = try Self.golden("heads/bert-squad.golden.safetensors")
        let report = try Verification.verify(reference: reference, candidate: candidate, inputs: inputs, tolerance: nil)
        #expect(report.heads.map(\.name).contains("start_logits") && report.heads.map(\.name).contains("end_logits"))
        let spans = try #require(report.agreements.first { $0.what == "best spans" })
        #expect(spans.total == 3 && spans.agreeing == 3)
    }
}

extension TaskHeadTests {
    /// llama.cpp's BERT reranker reads the pooler as `cls` and the classifier as `cls.output` with rank pooling
    /// (`LLAMA_POOLING_TYPE_RANK` = 4) and `bert.classifier.output_labels`; the head stays F32 in a Q8_0 file.
    @Test(arguments: [("heads/bert-reranker", 1), ("heads/bert-classifier-tf1", 3)])
    func classifiersBecomeLlamaCppRerankers(sample: String, outputs: Int) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path(sample), destination: folder.file("r.gguf"), options: ConversionOptions(output: GGUFOutput(types: .uniform(.q8_0))))
        let contents = try GGUFReader.read(path: folder.file("r.gguf"))
        let names = Set(contents.tensors.map(\.name))
        #expect(names.isSuperset(of: ["cls.weight", "cls.bias", "cls.output.weight", "cls.output.bias"]))
        #expect(names.allSatisfy { $0.hasPrefix("blk.") || $0.hasPrefix("cls.") || ["token_embd.weight", "token_types.weight", "position_embd.weight", "token_embd_norm.weight", "token_embd_norm.bias"].contains($0) })
        #expect(contents.tensors.filter { $0.name.hasPrefix("cls.") }.allSatisfy { $0.dtype == .f32 })
        #expect(contents.value("bert.pooling_type")?.intValue == 4)
        if case .array(_, let labels)? = contents.value("bert.classifier.output_labels") { #expect(labels.count == outputs) } else { Issue.record("no output_labels") }
        #expect(contents.tensors.first { $0.name == "cls.output.weight" }?.shape.dimensions == [outputs, 16])
        #expect(report.notes.contains { $0.text.contains("rank pooling") })
        // Read back: the head and its class return.
        let back = try ModelLoader.load(folder.file("r.gguf"))
        #expect(back["classifier.weight"] != nil && back["bert.pooler.dense.weight"] != nil)
        #expect(back.task.head == (outputs == 1 ? .reranker : .sequenceClassification))
    }

    /// Heads llama.cpp's BERT graph cannot run are left out and listed, so llama.cpp loads the encoder.
    @Test func otherHeadsAreLeftOutOfGGUFAndListed() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path("heads/bert-squad-tf1"), destination: folder.file("qa.gguf"), options: .init())
        let contents = try GGUFReader.read(path: folder.file("qa.gguf"))
        #expect(!contents.tensors.contains { $0.name.contains("qa_outputs") || $0.name.hasPrefix("cls") })
        #expect(report.dropped.contains { $0.name == "qa_outputs.weight" && $0.reason.contains("llama.cpp") })
        #expect(report.notes.contains { $0.text.contains("encoder only") })
    }

    /// The sentence-transformers pooling becomes `bert.pooling_type` (mean = 1); the Dense module is reported.
    @Test func sentenceTransformersPoolingGoesIntoGGUF() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path("heads/sbert-tiny"), destination: folder.file("s.gguf"), options: .init())
        let contents = try GGUFReader.read(path: folder.file("s.gguf"))
        #expect(contents.value("bert.pooling_type")?.intValue == 1)
        #expect(report.notes.contains { $0.text.contains("Dense") })
    }

    /// Truncation keeps the head and says it needs fine-tuning again; the sentence-transformers modules survive
    /// truncation and f16.
    @Test func truncationKeepsTheHead() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var options = ConversionOptions(transforms: [.selectLayers(.first(1))])
        let report = try Converter.convert(source: Samples.path("heads/bert-classifier-tf1"), destination: folder.file("one"), options: options)
        #expect(report.notes.contains { $0.text.contains("fine-tune") })
        let one = try ModelLoader.load(folder.file("one"))
        #expect(one["classifier.weight"] != nil && one.task.head == .sequenceClassification && one.config.numHiddenLayers == 1)
        options.transforms.append(.cast(.f16))
        _ = try Converter.convert(source: Samples.path("heads/sbert-tiny"), destination: folder.file("sbert"), options: options)
        let sbert = try ModelLoader.load(folder.file("sbert"))
        #expect(sbert.task.head == .sentenceEmbedding && sbert.pipeline?.pooling == .mean && sbert.pipeline?.dense.count == 1)
        #expect(sbert.pipeline?.dense.first?.weight.dtype == .f32)
    }

    /// verify --pair: [CLS] a [SEP] b [SEP] with token types 0 then 1, as BertTokenizer encodes a pair (the golden's
    /// first input was made that way).
    @Test func pairsAreEncodedAsBertTokenizerDoes() throws {
        let model = try ModelLoader.load(Samples.path("heads/bert-reranker"))
        let batch = try Verification.inputs(from: nil, texts: ["the model is fast and safe"], pairs: ["we keep the first three layers"], for: [model])
        let (golden, _) = try Self.golden("heads/bert-reranker.golden.safetensors")
        let real = golden.attentionMask[0].filter { $0 != 0 }.count
        #expect(batch.inputIds[0] == Array(golden.inputIds[0].prefix(real)))
        #expect(batch.tokenTypeIds[0] == Array(golden.tokenTypeIds[0].prefix(real)))
    }
}

extension TaskHeadTests {
    /// A ModelScope folder states its task in configuration.json; it decides when config.json names only the encoder.
    @Test func modelScopeTaskDecides() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var config = try ModelConfig(contentsOf: Samples.path("heads/bert-reranker/config.json"))
        config["architectures"] = .array([.string("BertModel")])
        config["id2label"] = nil
        config["label2id"] = nil
        func write(_ name: String, _ bytes: [UInt8]) throws {
            let file = try AtomicFile(destination: folder.file(name))
            try file.write(bytes)
            try file.commit()
        }
        try write("config.json", Array(config.huggingFaceText(weightsDType: nil).utf8))
        try write("configuration.json", Array(#"{"framework": "pytorch", "task": "token-classification"}"#.utf8))
        try write("model.safetensors", try Samples.bytes("heads/bert-reranker/model.safetensors"))
        let model = try ModelLoader.load(folder.path)
        #expect(model.task.head == .tokenClassification)
        #expect(model.notes.contains { $0.text.contains("ModelScope") })
        #expect(!model.tensors.contains { $0.name.contains("pooler") })
    }
}

extension TaskHeadTests {
    /// `--to paddle` writes PaddleNLP's task class (BertForQuestionAnswering names its Linear `classifier`) and reads
    /// back to the same head and outputs.
    @Test func paddleRoundTripKeepsTheHead() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        _ = try Converter.convert(source: Samples.path("heads/bert-squad-tf1"), destination: folder.file("pd"), options: ConversionOptions(output: PaddleOutput()))
        let config = try JSON.parse(contentsOf: folder.file("pd/model_config.json"))
        #expect(config["init_class"]?.stringValue == "BertForQuestionAnswering")
        let back = try ModelLoader.load(folder.file("pd"))
        #expect(back.task.head == .questionAnswering && back["qa_outputs.weight"] != nil)
        let (inputs, golden) = try Self.golden("heads/bert-squad.golden.safetensors")
        let output = try Verification.forward(back, inputs: inputs)
        Self.expectClose(try #require(output.heads.first { $0.name == "start_logits" }).values, try #require(golden["start_logits"]), "paddle start_logits")
    }

    /// A sentence-transformers module list that leaves the folder, or names a pooling ModelPort cannot run, is an error.
    @Test(arguments: [
        (#"[{"idx": 0, "name": "0", "path": "../x", "type": "sentence_transformers.models.Pooling"}]"#, "leaves the folder"),
        (#"[{"idx": 0, "name": "0", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#, "exactly one of"),
        (#"{"modules": []}"#, "JSON array"),
    ])
    func brokenSentenceTransformersFoldersAreRefused(modules: String, message: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for (name, text) in [("modules.json", modules), ("1_Pooling/config.json", #"{"pooling_mode_weightedmean_tokens": true}"#)] {
            let file = try AtomicFile(destination: folder.file(name))
            try file.write(Array(text.utf8))
            try file.commit()
        }
        do {
            _ = try SentenceTransformersFolder.read(folder.path)
            Issue.record("accepted \(modules)")
        } catch let error as ModelError {
            #expect(error.description.contains(message), "\(error)")
        }
    }
}

enum FileManagerFree {
    static func exists(_ path: String) -> Bool { fileExists(path) }
}
