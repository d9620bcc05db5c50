import BinaryIO
import ModelIR
import ModelPort
import Quantization
import SafetensorsFormat
import TestSupport
import Testing
import Verifier

/// `forward --text` / `verify --text` for every architecture: the model's own tokenizer, the ids transformers gives
/// and, for RoBERTa and ALBERT, the hidden states PyTorch computes from them.
@Suite struct TextInputTests {
    static let texts = ["巴黎是[MASK]国的首都", "Hello, world! ModelPort converts weights.", "x[MASK]y naïve Москва 😀"]

    @Test(arguments: ["roberta", "albert"])
    func textsGiveTransformersIdsAndHiddenStates(kind: String) throws {
        let model = try ModelLoader.load(Samples.path("tokenizers/\(kind)"))
        let inputs = try Verification.inputs(from: nil, texts: Self.texts, for: [model])
        let (golden, _) = try SafetensorsReader.read(path: Samples.path("tokenizers/\(kind).golden.safetensors"))
        let expected = try EncoderInputs(tensors: golden)
        #expect(inputs.inputIds == expected.inputIds)
        #expect(inputs.attentionMask == expected.attentionMask)
        let output = try Verification.forward(model, inputs: inputs)
        let reference = try #require(golden.first { $0.name == "last_hidden_state" }).withBytes { FloatValues.decode($0, from: .f32) ?? [] }
        #expect(output.lastHiddenState.count == reference.count)
        let worst = zip(output.lastHiddenState, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-4)
    }

    @Test func perceiverTextsAreUTF8BytesPlusSix() throws {
        let model = try ModelLoader.load(Samples.path("perceiver-tiny"))
        let inputs = try Verification.inputs(from: nil, texts: ["héllo world", "byte 字"], for: [model])
        let (golden, _) = try SafetensorsReader.read(path: Samples.path("perceiver-tiny/golden.safetensors"))
        let expected = try EncoderInputs(tensors: golden)
        for row in 0..<2 {
            let real = expected.attentionMask[row].filter { $0 == 1 }.count
            #expect(Array(inputs.inputIds[row].prefix(real)) == Array(expected.inputIds[row].prefix(real)))
        }
        _ = try Verification.forward(model, inputs: inputs)
    }

    @Test func textsLongerThanThePositionTableAreTruncatedToIt() throws {
        let model = try ModelLoader.load(Samples.path("perceiver-tiny"))  // max_position_embeddings 24
        let inputs = try Verification.inputs(from: nil, texts: [String(repeating: "long text ", count: 20)], for: [model])
        #expect(inputs.length == 24)
        #expect(inputs.inputIds[0].last == 5)  // [SEP] still closes the sequence
    }

    @Test func cocoLMSaysWhatItsTokenizerNeeds() throws {
        let model = try ModelLoader.load(Samples.path("cocolm-tiny"))
        #expect {
            _ = try Verification.inputs(from: nil, texts: ["hello"], for: [model])
        } throws: { String(describing: $0).contains("COCO-LM") && String(describing: $0).contains("dict.txt") }
    }

    @Test func pruningNeedsAWordPieceVocabulary() throws {
        let model = try ModelLoader.load(Samples.path("tokenizers/roberta"))
        #expect {
            _ = try VocabularySelection.prune(model, corpus: Samples.path("corpus-tiny.txt"))
        } throws: { String(describing: $0).contains("RobertaTokenizer") }
    }
}
