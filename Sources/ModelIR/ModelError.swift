import BinaryIO

/// The error every ModelPort layer throws for bad input or a failed operation: what, where, and why.
///
/// It prints as one line, `FILE: LOCATION: REASON` (for example
/// `model.safetensors: tensor 'a.weight': data_offsets [0, 12] do not match F32 [2] (8 bytes)`), which is
/// what the CLI shows before exiting with status 1.
///
/// Match errors by `kind` (and `location`), never by the text of `reason`: the words may change, the kinds do not.
/// The reason names the rule in the library's terms; a command-line tool maps kinds to its own advice.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    /// What sort of failure this is.
    public enum Kind: String, Sendable, CaseIterable {
        /// The input breaks a rule of its format (a bad offset, a truncated record, a lying size).
        case malformed
        /// The input is valid, but ModelPort does not handle it (a data type, an architecture, a layout).
        case unsupported
        /// A size or count in the input is beyond the caps of `ReaderLimits`.
        case limitExceeded
        /// No such file, or no model where one was expected.
        case notFound
        /// Several candidates (weight files, formats) and nothing to choose between them.
        case ambiguousInput
        /// The system refused an operation (permissions, disk full, a device where a file was expected).
        case io
        /// The request cannot work: options that do not go together, or a value out of range for this model.
        case invalidRequest
        /// The destination exists and replacing it was not asked for.
        case outputExists
        /// The result falls below a required quality (a minimum cosine); nothing was written.
        case belowRequiredQuality
        /// A value that must be finite (for quantizing or comparing) is NaN or infinite.
        case nonFinite
    }

    /// Where in the input the problem is.
    public enum Location: Sendable, Equatable {
        case offset(Int)
        case tensor(String)
        case key(String)
        case entry(String)
    }

    /// What sort of failure this is.
    public var kind: Kind
    /// The file (or folder) the problem is in, when known.
    public var file: String?
    /// Where inside it.
    public var location: Location?
    /// The rule that was broken or the operation that failed.
    public var reason: String
    /// The lower-level error value behind this one, when it has one a caller may want to act on (a quantizer's
    /// `NonFiniteValue`, say): matched by kind, never by text.
    public var cause: (any Error & Sendable)?

    public init(kind: Kind = .malformed, file: String? = nil, location: Location? = nil, _ reason: String,
                cause: (any Error & Sendable)? = nil) {
        self.kind = kind
        self.file = file
        self.location = location
        self.reason = reason
        self.cause = cause
    }

    /// Wraps a lower-level error, keeping its text and adding the file when it has none.
    public init(_ error: any Error, file: String? = nil) {
        if let model = error as? ModelError {
            self = model
            if self.file == nil { self.file = file }
        } else if let io = error as? BinaryIOError {
            self.init(kind: io.isOutputConflict ? .outputExists : io.isSystemFailure ? .io : .malformed, file: io.path ?? file,
                      location: io.offset.map(Location.offset), io.reason, cause: io)
        } else {
            self.init(file: file, String(describing: error), cause: error)
        }
    }

    /// The same error with another kind (readers build errors with one helper, then mark those a limit refused).
    public func with(kind: Kind) -> ModelError {
        var copy = self
        copy.kind = kind
        return copy
    }

    /// A name from a file, cut to keep the error one readable line (a hostile name may be megabytes long).
    static func shortened(_ name: String) -> String {
        name.utf8.count <= 200 ? name : String(name.prefix(120)) + "…(\(name.utf8.count) bytes)"
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        switch location {
        case .offset(let o)?: parts.append("offset \(o)")
        case .tensor(let name)?: parts.append("tensor '\(Self.shortened(name))'")
        case .key(let key)?: parts.append("key '\(Self.shortened(key))'")
        case .entry(let entry)?: parts.append(entry)
        case nil: break
        }
        parts.append(reason)
        return parts.joined(separator: ": ")
    }
}

