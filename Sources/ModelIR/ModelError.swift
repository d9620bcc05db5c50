import BinaryIO

/// The error every ModelPort layer throws for bad input or a failed operation: what, where, and why.
///
/// It prints as one line, `FILE: LOCATION: REASON` (for example
/// `model.safetensors: tensor 'a.weight': data_offsets [0, 12] do not match F32 [2] (8 bytes)`), which is
/// what the CLI shows before exiting with status 1.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    /// Where in the input the problem is.
    public enum Location: Sendable, Equatable {
        case offset(Int)
        case tensor(String)
        case key(String)
        case entry(String)
    }

    /// The file (or folder) the problem is in, when known.
    public var file: String?
    /// Where inside it.
    public var location: Location?
    /// The rule that was broken or the operation that failed.
    public var reason: String
    /// The lower-level error value behind this one, when it has one a caller may want to act on (a quantizer's
    /// `NonFiniteValue`, say): matched by kind, never by text.
    public var cause: (any Error & Sendable)?

    public init(file: String? = nil, location: Location? = nil, _ reason: String, cause: (any Error & Sendable)? = nil) {
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
            self.init(file: io.path ?? file, location: io.offset.map(Location.offset), io.reason)
        } else {
            self.init(file: file, String(describing: error))
        }
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

