import ModelIR

/// A batch of token sequences: ids, token types and the attention mask, each `[batch][length]`.
public struct EncoderInputs: Sendable {
    public var inputIds: [[Int]]
    public var tokenTypeIds: [[Int]]
    public var attentionMask: [[Int]]

    /// The most tokens (batch × length) one forward pass takes: the verifier keeps every layer's hidden states,
    /// so memory grows with layers × tokens × width (16,384 tokens of BERT-large: about 1.6 GB).
    public static let maximumTokens = 1 << 14

    public init(inputIds: [[Int]], tokenTypeIds: [[Int]]? = nil, attentionMask: [[Int]]? = nil) throws {
        guard let length = inputIds.first?.count, length > 0, inputIds.allSatisfy({ $0.count == length }) else {
            throw VerifierError("input_ids must be a non-empty [batch, length] array")
        }
        guard inputIds.count <= Self.maximumTokens / length else {
            throw VerifierError("inputs of \(inputIds.count) × \(length) tokens exceed the \(Self.maximumTokens) tokens of one verifier run")
        }
        self.inputIds = inputIds
        self.tokenTypeIds = tokenTypeIds ?? inputIds.map { $0.map { _ in 0 } }
        self.attentionMask = attentionMask ?? inputIds.map { $0.map { _ in 1 } }
        guard self.tokenTypeIds.map(\.count) == inputIds.map(\.count), self.attentionMask.map(\.count) == inputIds.map(\.count) else {
            throw VerifierError("token_type_ids and attention_mask must have input_ids' shape")
        }
    }

    public var batch: Int { inputIds.count }
    public var length: Int { inputIds[0].count }

    /// Reads `input_ids` (and optionally `token_type_ids`, `attention_mask`) from tensors of any integer type.
    public init(tensors: [Tensor]) throws {
        func rows(_ name: String) throws -> [[Int]]? {
            guard let tensor = tensors.first(where: { $0.name == name }) else { return nil }
            guard tensor.shape.rank == 2 || tensor.shape.rank == 1 else { throw VerifierError("'\(name)' must be [batch, length]") }
            let values = try Weights.integers(of: tensor)
            let width = tensor.shape.dimensions.last ?? 0
            guard width > 0 else { throw VerifierError("'\(name)' is empty") }
            return stride(from: 0, to: values.count, by: width).map { Array(values[$0..<($0 + width)]) }
        }
        guard let ids = try rows("input_ids") else { throw VerifierError("the inputs have no 'input_ids' tensor") }
        try self.init(inputIds: ids, tokenTypeIds: try rows("token_type_ids"), attentionMask: try rows("attention_mask"))
    }

    /// A fixed deterministic batch for models without given inputs: two sequences of 16 ids (the second padded
    /// after 11), spread over the vocabulary while avoiding the first ids (special tokens).
    public static func standard(vocabSize: Int, padId: Int = 0, typeVocabSize: Int = 2) throws -> EncoderInputs {
        let usable = max(vocabSize - 5, 1)
        let first = (0..<16).map { 5 + ($0 * 37 + 11) % usable }
        var second = (0..<16).map { 5 + ($0 * 53 + 7) % usable }
        let mask = (0..<16).map { $0 < 11 ? 1 : 0 }
        for i in 11..<16 { second[i] = padId }
        let secondTypes = (0..<16).map { $0 < 6 || typeVocabSize < 2 ? 0 : 1 }
        return try EncoderInputs(inputIds: [first, second], tokenTypeIds: [Array(repeating: 0, count: 16), secondTypes],
                                 attentionMask: [Array(repeating: 1, count: 16), mask])
    }
}

/// What a forward pass computed: every hidden state (`[batch, length, width]` each, the embeddings first),
/// the pooler output when the model has one, and logits (`[batch, logitRows, vocabulary]`) for models with a
/// language-modelling head (Perceiver IO).
public struct ForwardOutput: Sendable {
    public var batch: Int
    public var length: Int
    public var width: Int
    public var hiddenStates: [[Float]]
    public var pooler: [Float]?
    public var logits: [Float]? = nil
    public var logitRows = 0
    public var logitWidth = 0
    /// Which rows of the hidden states are real tokens (nil: all of them, as for Perceiver latents).
    public var rowMask: [[Int]]? = nil
    /// The fine-tuned head's outputs (classifier logits, QA start/end logits, MLM logits, the sentence embedding).
    public var heads: [HeadOutput] = []

    public init(batch: Int, length: Int, width: Int, hiddenStates: [[Float]], pooler: [Float]?, rowMask: [[Int]]? = nil) {
        self.batch = batch
        self.length = length
        self.width = width
        self.hiddenStates = hiddenStates
        self.pooler = pooler
        self.rowMask = rowMask
    }

    public var lastHiddenState: [Float] { hiddenStates.last ?? [] }
}
