/// An operating-system or low-level parsing failure: which file (or buffer), where, and why.
///
/// Format readers turn these into their own errors with more context; the CLI prints them as one line.
public struct BinaryIOError: Error, CustomStringConvertible, Sendable {
    /// The file the failure is about, when there is one.
    public let path: String?
    /// A byte offset inside the file or buffer, when the failure has one.
    public let offset: Int?
    /// What went wrong, in words.
    public let reason: String

    /// Whether the system refused an operation (open, write, rename…), rather than the bytes breaking a rule.
    public let isSystemFailure: Bool
    /// Whether an output's destination exists (or appeared meanwhile) and was left as it is.
    public let isOutputConflict: Bool

    public init(path: String?, offset: Int? = nil, reason: String, isSystemFailure: Bool = false, isOutputConflict: Bool = false) {
        self.path = path
        self.offset = offset
        self.reason = reason
        self.isSystemFailure = isSystemFailure
        self.isOutputConflict = isOutputConflict
    }

    static func system(_ path: String, _ action: String, errno code: Int32 = errno) -> BinaryIOError {
        BinaryIOError(path: path, reason: "\(action): \(errnoDescription(code))", isSystemFailure: true)
    }

    public var description: String {
        var parts: [String] = []
        if let path { parts.append(path) }
        if let offset { parts.append("offset \(offset)") }
        parts.append(reason)
        return parts.joined(separator: ": ")
    }
}
