/// A JSON value that keeps what file formats care about and Foundation drops: the order of object
/// members, duplicate keys (rejected at parse time), and numbers as their exact source text, so a u64
/// offset or `1e-12` round-trips without passing through `Double`.
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number, as written (`"12"`, `"-0.5"`, `"1e-12"`).
    case number(String)
    case string(String)
    case array([JSON])
    /// Members in file order; keys are unique.
    case object([(key: String, value: JSON)])

    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// A number from an integer.
    public static func integer<T: BinaryInteger>(_ value: T) -> JSON { .number(String(value)) }

    /// A number from a double, written the shortest way that reads back exactly (as Python's `repr`).
    /// A number; NaN and ±infinity, which JSON cannot spell, become `null`.
    public static func double(_ value: Double) -> JSON {
        guard value.isFinite else { return .null }
        if value == value.rounded(), abs(value) < 1e16 { return .number(String(format: value) + ".0") }
        return .number(String(format: value))
    }

    /// The member named `key`, when this is an object that has it.
    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [(key: String, value: JSON)]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The number as an exact unsigned 64-bit integer, when it is written as one.
    public var uint64Value: UInt64? {
        guard case .number(let text) = self else { return nil }
        return UInt64(text)
    }

    /// The number as an `Int`, when it is written as an integer that fits.
    public var intValue: Int? {
        guard case .number(let text) = self else { return nil }
        return Int(text)
    }

    /// The number as a `Double` (any JSON number).
    public var doubleValue: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

private extension String {
    /// Python-`repr`-like shortest text for a finite double (Swift's `description` is shortest round-trip).
    init(format value: Double) {
        if value == value.rounded(), abs(value) < 1e16 {
            self = String(Int64(value))
        } else {
            self = value.description
        }
    }
}
