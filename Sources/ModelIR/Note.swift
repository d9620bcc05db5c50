/// Something a reader, transform or output wants its caller to know: what it decided, guessed or could not do.
///
/// Notes are not errors: the work went on. Their kind lets an app act on them without reading the text; a string
/// literal is a note of kind `.info`.
public struct Note: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringInterpolation {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// A fact about the input worth showing (a layout, a count).
        case info
        /// Names matched no rule and were kept, or were renamed by a side file.
        case naming
        /// A config value was missing and inferred from the tensors, or chosen as the architecture's default.
        case inferred
        /// The task or the labels: what was taken from the source, assumed, or named.
        case task
        /// The output cannot hold or run something the model has (a head llama.cpp does not run, a Dense module
        /// GGUF cannot store); the written file is still valid.
        case outputLimitation
        /// A measurement that could not be made (an end-to-end check that failed to run).
        case quality
    }

    public var kind: Kind
    public var text: String

    public init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }

    public init(stringLiteral text: String) { self.init(.info, text) }

    public var description: String { text }
}
