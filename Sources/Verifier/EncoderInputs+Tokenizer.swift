import Tokenizers

extension EncoderInputs {
    /// A padded batch from a tokenizer's encodings (``Tokenizer/batch(_:pairs:)``).
    public init(encodings: [Encoding]) throws {
        try self.init(inputIds: encodings.map(\.ids), tokenTypeIds: encodings.map(\.typeIds), attentionMask: encodings.map(\.attentionMask))
    }
}
