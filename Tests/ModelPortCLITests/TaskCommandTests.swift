import BinaryIO
import ModelIR
import ModelPort
import ModelPortCLI
import SafetensorsFormat
import TestSupport
import Testing

/// `--task`, `--labels`, `--labels-file` and `--pair` from the command line (issue 13).
@Suite struct TaskCommandTests {
    @Test func labelsAndTaskReachTheWrittenConfig() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let labels = folder.file("labels.txt")
        let file = try AtomicFile(destination: labels)
        try file.write(Array("O\nB-ORG\nI-ORG\n".utf8))
        try file.commit()
        let result = run("convert", Samples.path("heads/bert-classifier-tf1"), folder.file("ner"), "--task", "token-classification",
                         "--labels-file", labels)
        #expect(result.status == 0, "\(result.err)")
        let config = try ModelConfig(contentsOf: folder.file("ner/config.json"))
        #expect(config["architectures"]?.arrayValue?.first?.stringValue == "BertForTokenClassification")
        #expect(config.labels == ["O", "B-ORG", "I-ORG"])
        #expect(!result.out.contains("assumed sequence classification"))
    }

    @Test func aLabelCountThatDisagreesIsOneLine() {
        let result = run("convert", Samples.path("heads/bert-classifier-tf1"), "/nonexistent/out", "--labels", "a,b")
        #expect(result.status == 1)
        #expect(result.err.contains("has 3 outputs but 2 labels were given") && result.err.split(separator: "\n").count == 1, "\(result.err)")
        #expect(run("convert", Samples.path("heads/bert-classifier-tf1"), "/nonexistent/out", "--task", "nonsense").status == 64)
    }

    @Test func verifyTakesPairsAndReportsDecisions() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        #expect(run("convert", Samples.path("heads/bert-classifier-tf1"), folder.file("cls16"), "--dtype", "f16").status == 0)
        let result = run("verify", Samples.path("heads/bert-classifier-tf1"), folder.file("cls16"), "--text", "the model is fast",
                         "--pair", "it is safe", "--text", "我们的模型", "--pair", "这个模型很快", "--json")
        #expect(result.status == 0, "\(result.err)")
        let json = try JSON.parse(Array(result.out.utf8))
        #expect(json["logits"]?["passed"] == .bool(true))
        let agreement = json["agreements"]?.arrayValue?.first
        #expect(agreement?["what"]?.stringValue == "predicted labels" && agreement?["total"]?.intValue == 2 && agreement?["agreeing"]?.intValue == 2)
        #expect(run("verify", Samples.path("heads/bert-classifier-tf1"), folder.file("cls16"), "--text", "a", "--pair", "b", "--pair", "c").status == 1)
    }

    @Test func forwardWritesTheHeadOutputs() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let result = run("forward", Samples.path("heads/bert-squad-tf1"), "--text", "what is fast", "--pair", "the model is fast",
                         "--output", folder.file("out.safetensors"))
        #expect(result.status == 0, "\(result.err)")
        let (tensors, _) = try SafetensorsReader.read(path: folder.file("out.safetensors"))
        let names = Set(tensors.map(\.name))
        #expect(names.isSuperset(of: ["start_logits", "end_logits", "last_hidden_state"]) && !names.contains("pooler_output"))
    }
}
