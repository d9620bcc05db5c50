/// A value built by the unpickler: plain data and inert records of allowlisted calls. Nothing in it was
/// executed; a consumer (the PyTorch or Paddle reader) interprets the records it knows.
public indirect enum PickleValue: CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer beyond `Int`'s range, as little-endian two's complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// A large byte string left where it lies in the pickle data (`Options.mapBytesFrom`): its range there.
    case byteRange(Range<Int>)
    case tuple([PickleValue])
    /// Mutable containers are references, since the memo and later SETITEMS/APPENDS share them.
    case list(PickleList)
    case dict(PickleDict)
    /// A resolved, allowlisted global (`torch FloatStorage`, `torch float16`).
    case global(PickleGlobal)
    /// `callee(*arguments)` as recorded by REDUCE or NEWOBJ on an allowlisted callable; `state` is what a
    /// later BUILD supplied.
    case call(PickleCall)
    /// What a persistent id resolved to (the reader's storage reference), by index into its table.
    case persistent(Int)

    public var description: String {
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt: return "<big int>"
        case .float(let f): return String(f)
        case .string(let s): return "'\(s)'"
        case .bytes(let b): return "<\(b.count) bytes>"
        case .byteRange(let r): return "<\(r.count) bytes at \(r.lowerBound)>"
        case .tuple(let items): return "(" + items.map(\.description).joined(separator: ", ") + ")"
        case .list(let list): return "[\(list.items.count) items]"
        case .dict(let dict): return "{\(dict.items.count) items}"
        case .global(let g): return "\(g.module).\(g.name)"
        case .call(let call): return "\(call.callee.module).\(call.callee.name)(…)"
        case .persistent(let i): return "<persistent \(i)>"
        }
    }

    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .bytes(let b): return String(validating: b, as: UTF8.self)
        default: return nil
        }
    }

    /// The items of a tuple or a list.
    public var sequence: [PickleValue]? {
        switch self {
        case .tuple(let items): return items
        case .list(let list): return list.items
        default: return nil
        }
    }
}

/// A global reference, module and name as written (after Python 2 renames).
public struct PickleGlobal: Sendable, Hashable {
    public let module: String
    public let name: String
    public var qualifiedName: String { module + "." + name }
}

public final class PickleList {
    public internal(set) var items: [PickleValue] = []
}

/// A dict (or OrderedDict) in insertion order; keys are usually strings.
public final class PickleDict {
    public internal(set) var items: [(key: PickleValue, value: PickleValue)] = []
    /// Attributes a BUILD set on it (an OrderedDict's `_metadata`), kept but not interpreted.
    public internal(set) var attributes: PickleValue?

    /// The value under a string key.
    public subscript(key: String) -> PickleValue? {
        items.last { $0.key.stringValue == key }?.value
    }
}

public final class PickleCall {
    public let callee: PickleGlobal
    public let arguments: [PickleValue]
    public internal(set) var state: PickleValue?
    /// The byte offset of the opcode that made the call, for error messages.
    public let offset: Int

    /// A record made by a consumer (for wrappers such as `_rebuild_from_type_v2(func, type, args)`).
    public static func record(callee: PickleGlobal, arguments: [PickleValue], offset: Int) -> PickleCall {
        PickleCall(callee: callee, arguments: arguments, offset: offset)
    }

    init(callee: PickleGlobal, arguments: [PickleValue], offset: Int) {
        self.callee = callee
        self.arguments = arguments
        self.offset = offset
    }
}
