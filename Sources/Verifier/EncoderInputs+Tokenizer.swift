import Tokenizers

extension EncoderInputs {
    /// A padded batch from a tokenizer's encodings (``/Tokenizers/Tokenizer/batch(_:pairs:limit:)``).
    public init(encodings: [Encoding]) throws {
        try self.init(inputIds: encodings.map(\.ids), tokenTypeIds: encodings.map(\.typeIds), attentionMask: encodings.map(\.attentionMask))
    }
}
