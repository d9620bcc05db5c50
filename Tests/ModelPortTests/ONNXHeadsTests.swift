import BinaryIO
import Foundation
import ModelIR
import ModelPort
@testable import ONNXFormat
import TestSupport
import Testing
import Transforms
import Verifier

/// Masked-LM and pre-training heads in the ONNX graph, under the names optimum's fill-mask export and transformers'
/// `*ForPreTraining` outputs use, with the decoder tied to the word-embedding initializer.
@Suite struct ONNXMaskedLMHeadTests {
    static func load(_ sample: String, task: HeadKind? = nil) throws -> Model {
        try ModelLoader.load(Samples.path(sample), options: LoadOptions(task: TaskOptions(head: task)))
    }

    /// The producer of each value.
    static func producers(_ plan: ONNXPlan) -> [String: Onnx_NodeProto] {
        Dictionary(plan.graph.node.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
    }

    /// The initializer the logits' decoder MatMul multiplies by, followed back through Transpose (and, for fp16 and
    /// int8, the Cast / scale Mul that turn the stored table into fp32).
    static func decoderTable(_ plan: ONNXPlan, output: String) throws -> String {
        let producer = producers(plan)
        var node = try #require(producer[output])
        if node.opType == "Add" { node = try #require(producer[node.input[0]]) }
        #expect(node.opType == "MatMul")
        var value = node.input[1]
        while let n = producer[value] {
            #expect(["Transpose", "Cast", "Mul"].contains(n.opType), "\(n.name)")
            value = n.input[0]
        }
        return value
    }

    @Test func bertPreTrainingHasPredictionAndSeqRelationshipLogits() throws {
        let model = try Self.load("tensorflow/bert-tiny-tf1")
        #expect(model.task.head == .preTraining)
        let plan = try ONNXExporter.plan(model)
        #expect(plan.outputNames == ["last_hidden_state", "prediction_logits", "pooler_output", "seq_relationship_logits"])
        let vocabulary = try #require(model["bert.embeddings.word_embeddings.weight"]).shape[0]
        let logits = try #require(plan.graph.output.first { $0.name == "prediction_logits" })
        #expect(logits.type.tensorType.shape.dim.map(\.dimParam) == ["batch_size", "sequence_length", ""])
        #expect(logits.type.tensorType.shape.dim.last?.dimValue == Int64(vocabulary))
        #expect(try Self.decoderTable(plan, output: "prediction_logits") == "bert.embeddings.word_embeddings.weight")
        let names = plan.initializers.map(\.name)
        #expect(Set(names).count == names.count, "every initializer stored once")
        #expect(!names.contains("cls.predictions.decoder.weight"), "the tied decoder is the word-embedding initializer")
        #expect(names.contains("cls.predictions.transform.dense.weight") && names.contains("cls.predictions.bias"))
        #expect(names.contains("cls.seq_relationship.weight"))
    }

    /// fp16 and int8 graphs multiply by the table the embeddings gather from: one [vocabulary, width] initializer.
    @Test(arguments: [ONNXPrecision.fp32, .fp16, .int8])
    func theTiedTableIsStoredOnce(precision: ONNXPrecision) throws {
        let model = try Self.load("tensorflow/bert-tiny-tf1", task: .maskedLM)
        let plan = try ONNXExporter.plan(model, options: .init(precision: precision))
        let table = try #require(model["bert.embeddings.word_embeddings.weight"]).shape.dimensions
        #expect(plan.initializers.filter { $0.dims == table }.count == 1)
        let stored = try Self.decoderTable(plan, output: "logits")
        // The word embeddings gather from the same initializer (fp16: through its Cast).
        let producer = Self.producers(plan)
        var gathered = try #require(plan.graph.node.first { $0.opType == "Gather" && $0.input[1] == "input_ids" }).input[0]
        while let cast = producer[gathered], cast.opType == "Cast" { gathered = cast.input[0] }
        #expect(stored == gathered, "the decoder and the word embeddings read \(stored) and \(gathered)")
    }

    /// `--task masked-lm` gives optimum's fill-mask graph: `logits` [batch, sequence, vocabulary], no pooler
    /// (`BertForMaskedLM` builds none).
    @Test func maskedLMTaskHasOptimumsFillMaskLogits() throws {
        let plan = try ONNXExporter.plan(try Self.load("tensorflow/bert-tiny-tf1", task: .maskedLM))
        #expect(plan.outputNames == ["last_hidden_state", "logits"])
        #expect(!plan.initializers.contains { $0.name.hasPrefix("cls.seq_relationship") || $0.name.contains("pooler") })
    }

    /// `--task encoder` states `BertModel`: the graph has no head outputs, as before.
    @Test func encoderTaskKeepsTheHeadsOut() throws {
        let plan = try ONNXExporter.plan(try Self.load("tensorflow/bert-tiny-tf1", task: .encoder))
        #expect(plan.outputNames == ["last_hidden_state", "pooler_output"])
        #expect(!plan.initializers.contains { $0.name.hasPrefix("cls.") })
    }

    @Test func albertPreTrainingHasPredictionAndSOPLogits() throws {
        let model = try Self.load("onnx/albert-pretraining")
        let plan = try ONNXExporter.plan(model)
        #expect(plan.outputNames == ["last_hidden_state", "prediction_logits", "pooler_output", "sop_logits"])
        #expect(try Self.decoderTable(plan, output: "prediction_logits") == "albert.embeddings.word_embeddings.weight")
        #expect(plan.initializers.contains { $0.name == "predictions.dense.weight" })
        #expect(plan.initializers.contains { $0.name == "sop_classifier.classifier.weight" })
    }

    /// RoBERTa's `lm_head`: dense, exact GELU, `layer_norm`, the tied decoder and `lm_head.bias`.
    @Test func robertaMaskedLMUsesItsLMHead() throws {
        let model = try Self.load("onnx/roberta-mlm")
        #expect(model.task.head == .maskedLM)
        let plan = try ONNXExporter.plan(model)
        #expect(plan.outputNames == ["last_hidden_state", "logits"])
        #expect(try Self.decoderTable(plan, output: "logits") == "roberta.embeddings.word_embeddings.weight")
        let names = Set(plan.initializers.map(\.name))
        #expect(names.isSuperset(of: ["lm_head.dense.weight", "lm_head.layer_norm.weight", "lm_head.bias"]))
        #expect(plan.graph.node.contains { $0.opType == "Erf" && $0.name.hasPrefix("/lm_head/") })
    }

    /// `--drop-heads` leaves an encoder graph and nothing to report; head tensors without their transform are reported.
    @Test func droppedHeadsNeedNoNoteAndIncompleteOnesGetOne() throws {
        let model = try Self.load("tensorflow/bert-tiny-tf1")
        let dropped = try ONNXOutput().prepare(model.droppingHeads())
        #expect(!dropped.model.notes.contains { $0.kind == .outputLimitation })
        var incomplete = model
        incomplete.tensors.removeAll { $0.name.hasPrefix("cls.predictions.transform.") }
        let prepared = try ONNXOutput().prepare(incomplete)
        #expect(prepared.model.notes.contains { $0.kind == .outputLimitation && $0.text.contains("transform") })
        let plan = try #require(prepared.extra as? ONNXPlan)
        #expect(!plan.outputNames.contains("prediction_logits"))
    }

    /// Converting a pre-training checkpoint writes its heads: no limitation note, and the verifier, reading the graph's
    /// initializers back, computes the same prediction and next-sentence logits as the source.
    @Test func convertedPreTrainingHeadsVerifyAgainstTheSource() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = Samples.path("tensorflow/bert-tiny-tf1")
        let report = try Converter.convert(source: source, destination: folder.file("m.onnx"), options: ConversionOptions())
        #expect(!report.notes.contains { $0.kind == .outputLimitation })
        let parity = try Verification.verify(reference: source, candidate: folder.file("m.onnx"))
        #expect(parity.passed)
        let heads = Set(parity.heads.map(\.name))
        #expect(heads.isSuperset(of: ["prediction_logits", "seq_relationship_logits"]), "\(heads)")
    }
}

/// optimum-style torch.onnx exports (`Samples/onnx/NAME-optimum`: model.onnx + config + tokenizer, written by
/// `Samples/generate.py onnx_exports` with the legacy exporter optimum uses) read back bit-exactly against the same
/// models' safetensors (`Samples/onnx/NAME`), and verify through the library.
@Suite struct ONNXOptimumExportTests {
    @Test(arguments: ["bert-tiny", "bert-classifier"])
    func torchExportWeightsAreBitExact(name: String) throws {
        let exported = Samples.path("onnx/\(name)-optimum")
        // The fixture exercises the reader's naming: torch.onnx stores Linear weights as anonymous, transposed
        // `onnx::MatMul_N` initializers.
        let proto = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: exported + "/model.onnx")))
        #expect(proto.producerName == "pytorch")
        #expect(proto.graph.initializer.contains { $0.name.hasPrefix("onnx::MatMul_") })
        #expect(proto.graph.input.map(\.name) == ["input_ids", "attention_mask", "token_type_ids"])
        #expect(proto.opsetImport.contains { $0.domain.isEmpty && $0.version == 17 })

        let reference = try ModelLoader.load(Samples.path("onnx/\(name)"))
        let read = try ModelLoader.load(exported)
        #expect(read.sourceFormat == "ONNX")
        #expect(read.task.head == reference.task.head)
        let byName = Dictionary(read.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for t in reference.tensors {
            let b = try #require(byName[t.name], "\(t.name) is not among the ONNX weights")
            #expect(b.shape == t.shape, "\(t.name)")
            #expect(b.dtype == t.dtype, "\(t.name)")
            let same = try t.withBytes { x in try b.withBytes { y in x.elementsEqual(y) } }
            #expect(same, "\(t.name) differs between model.safetensors and model.onnx")
        }
        #expect(reference.tensors.count > 30)
    }

    /// `modelport verify SAFETENSORS_FOLDER optimum-folder` through the library: every layer and head within fp32's
    /// tolerance (the weights are the same bits, so the forward passes agree exactly).
    @Test(arguments: ["bert-tiny", "bert-classifier"])
    func verifyPassesAgainstTheSafetensors(name: String) throws {
        // The graph file itself, as `modelport verify Samples/onnx/NAME Samples/onnx/NAME-optimum/model.onnx` names it
        // (its config.json beside it).
        let report = try Verification.verify(reference: Samples.path("onnx/\(name)"), candidate: Samples.path("onnx/\(name)-optimum/model.onnx"))
        #expect(report.passed)
        #expect(report.layers.allSatisfy { $0.maxAbsError == 0 })
        let heads = report.heads.map(\.name)
        #expect(heads.contains(name == "bert-classifier" ? "logits" : "pooler_output"), "\(heads)")
    }
}

/// transformers.js's layout: the graph in `onnx/` under the name transformers.js loads for the dtype (its
/// `DEFAULT_DTYPE_SUFFIX_MAPPING`: fp32 '', fp16 '_fp16', q8 '_quantized'), config and tokenizer at the top.
@Suite struct ONNXTransformersJSLayoutTests {
    @Test(arguments: [(ONNXPrecision.fp32, "onnx/model.onnx"), (.fp16, "onnx/model_fp16.onnx"), (.int8, "onnx/model_quantized.onnx")])
    func theGraphGoesWhereTransformersJSLooks(precision: ONNXPrecision, graph: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let destination = folder.file("web")
        let options = ConversionOptions(output: ONNXOutput(export: ONNXExportOptions(precision: precision, layout: .transformersJS)))
        let report = try Converter.convert(source: Samples.path("bert-tiny"), destination: destination, options: options)
        #expect(report.files.first == graph)
        #expect(report.files.contains("config.json") && report.files.contains("tokenizer.json"))
        #expect(fileExists(destination + "/" + graph))
        #expect(fileExists(destination + "/config.json") && fileExists(destination + "/tokenizer.json"))
        #expect(!fileExists(destination + "/model.onnx"))
        // The folder reads back as ONNX (the graph found in onnx/, the config at the top) and computes the source's states.
        let back = try ModelLoader.load(destination)
        #expect(back.sourceFormat.contains("ONNX"))
        #expect(back.config.numAttentionHeads == 4)
        let parity = try Verification.verify(reference: Samples.path("bert-tiny"), candidate: destination, tolerance: Tolerance(minCosine: 0.99))
        #expect(parity.passed)
    }

    /// transformers.js reads no vocab.txt: a source without tokenizer.json (a TF1 checkpoint) is told so.
    @Test(arguments: [("tensorflow/bert-tiny-tf1", true), ("bert-tiny", false)])
    func aMissingTokenizerJSONIsNoted(sample: String, noted: Bool) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let options = ConversionOptions(output: ONNXOutput(export: ONNXExportOptions(layout: .transformersJS)), quality: .off)
        let report = try Converter.convert(source: Samples.path(sample), destination: folder.file("web"), options: options)
        #expect(report.notes.contains { $0.kind == .outputLimitation && $0.text.contains("tokenizer.json") } == noted)
    }

    @Test func optimumLayoutKeepsModelOnnxAtTheTop() throws {
        #expect(ONNXFolderLayout.optimum.graphPath(for: .int8) == "model.onnx")
    }
}
