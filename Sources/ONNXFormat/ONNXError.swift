/// An error reading or writing ONNX: the file, where in it (a byte offset, a tensor or node), and the rule broken.
public struct ONNXError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure, for tests and callers to match on.
    public enum Kind: Sendable, Equatable {
        /// The bytes are not a well-formed ModelProto (a length past the end, a bad wire type, nesting too deep).
        case malformed
        /// Well-formed, but outside what ModelPort reads (an unknown element type, a dimension or count too large).
        case unsupported
        /// External data that points outside the model's folder, or at something that is not a plain file.
        case unsafeExternalData
        /// The model cannot be written as an ONNX graph (an architecture or head without a graph here).
        case cannotExport
    }

    public var kind: Kind
    public var file: String?
    public var offset: Int?
    public var reason: String

    public init(_ kind: Kind, file: String? = nil, offset: Int? = nil, _ reason: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        var prefix = file.map { $0 + ": " } ?? ""
        if let offset { prefix += "offset \(offset): " }
        return prefix + reason
    }
}
