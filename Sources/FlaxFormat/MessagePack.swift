import BinaryIO
import ModelIR

/// One value of a MessagePack document (https://github.com/msgpack/msgpack/blob/master/spec.md), as far as
/// `flax.serialization` writes them. Strings, binaries and extension payloads are kept as byte ranges of the
/// file, so a checkpoint's tensor bytes are never copied while its structure is read.
public indirect enum MessagePackValue: Sendable {
    case none
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case string(String)
    /// `bin 8/16/32`: the bytes' range in the file.
    case binary(Range<Int>)
    case array([MessagePackValue])
    /// Keys and values in file order.
    case map([(key: MessagePackValue, value: MessagePackValue)])
    /// `fixext` / `ext 8/16/32`: the application type and the payload's range in the file.
    case ext(type: Int8, Range<Int>)

    /// The string of a `.string` value.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// A non-negative integer that fits an `Int`.
    public var intValue: Int? {
        switch self {
        case .int(let v): return Int(exactly: v)
        case .uint(let v): return Int(exactly: v)
        default: return nil
        }
    }
}

/// A MessagePack parser over a mapped file that trusts nothing it reads: every length is checked against the
/// bytes that remain before anything is sliced or allocated, nesting is capped at `ReaderLimits.maxNestingDepth`,
/// and the entries all containers declare add up to at most the document's size (each value takes at least one
/// byte), so memory stays linear in the file.
public struct MessagePackParser {
    var reader: ByteReader
    let maxDepth: Int
    var budget: Int
    /// Called with the file offset after each binary or extension payload the parse skips: nothing before it is read
    /// again, so a reader parsing a mapped file can release the pages behind the parse (`PagesBehind`).
    package var passed: ((Int) -> Void)?

    /// A parser over `bytes` (the whole of `path`, or a part starting at `baseOffset`).
    package init(_ bytes: UnsafeRawBufferPointer, path: String?, baseOffset: Int = 0, limits: ReaderLimits = .current) {
        reader = ByteReader(bytes, path: path, baseOffset: baseOffset)
        maxDepth = limits.maxNestingDepth
        budget = bytes.count
    }

    /// The offset of the next byte, from the start of the parsed bytes.
    public var offset: Int { reader.offset }
    /// The bytes not parsed yet.
    public var remaining: Int { reader.remaining }

    /// Parses one value (and everything inside it).
    public mutating func parse() throws -> MessagePackValue {
        try value(depth: 0)
    }

    private func fail(_ reason: String, at start: Int) -> BinaryIOError {
        BinaryIOError(path: reader.path, offset: reader.baseOffset + start, reason: reason)
    }

    private mutating func length<T: FixedWidthInteger>(_: T.Type, _ what: String, start: Int) throws -> Int {
        let raw = try reader.read(T.self, endianness: .big)
        guard let n = Int(exactly: raw) else { throw fail("\(what) length \(raw) is out of range", at: start) }
        return n
    }

    private mutating func range(_ count: Int, _ what: String, start: Int) throws -> Range<Int> {
        guard count <= reader.remaining else {
            throw fail("\(what) declares \(count) bytes, but only \(reader.remaining) remain", at: start)
        }
        let from = reader.offset
        _ = try reader.readBytes(count)
        passed?(reader.baseOffset + reader.offset)
        return (reader.baseOffset + from)..<(reader.baseOffset + from + count)
    }

    private mutating func string(_ count: Int, start: Int) throws -> MessagePackValue {
        guard count <= reader.remaining else {
            throw fail("string declares \(count) bytes, but only \(reader.remaining) remain", at: start)
        }
        let bytes = try reader.readBytes(count)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("string is not valid UTF-8", at: start) }
        return .string(text)
    }

    private mutating func items(_ count: Int, perItem: Int, _ what: String, start: Int) throws {
        // Each item takes at least one byte: a count larger than what remains is a lie, found before allocating.
        let (needed, overflow) = count.multipliedReportingOverflow(by: perItem)
        guard !overflow, needed <= reader.remaining else {
            throw fail("\(what) declares \(count) entries, but only \(reader.remaining) bytes remain", at: start)
        }
        // Declared counts are reserved up front: their sum over all containers is capped by the document's size,
        // so nested containers that each claim everything that remains cannot multiply the memory asked for.
        budget -= needed
        guard budget >= 0 else {
            throw ModelError(kind: .limitExceeded, file: reader.path, location: .offset(reader.baseOffset + start),
                             "containers declare more entries than the document has bytes")
        }
    }

    private mutating func array(_ count: Int, depth: Int, start: Int) throws -> MessagePackValue {
        try items(count, perItem: 1, "array", start: start)
        var values: [MessagePackValue] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try value(depth: depth + 1)) }
        return .array(values)
    }

    private mutating func map(_ count: Int, depth: Int, start: Int) throws -> MessagePackValue {
        try items(count, perItem: 2, "map", start: start)
        var pairs: [(key: MessagePackValue, value: MessagePackValue)] = []
        pairs.reserveCapacity(count)
        for _ in 0..<count {
            let key = try value(depth: depth + 1)
            pairs.append((key, try value(depth: depth + 1)))
        }
        return .map(pairs)
    }

    private mutating func value(depth: Int) throws -> MessagePackValue {
        let start = reader.offset
        guard depth <= maxDepth else {
            throw ModelError(kind: .limitExceeded, file: reader.path, location: .offset(reader.baseOffset + start),
                             "nesting deeper than \(maxDepth) levels (ReaderLimits.maxNestingDepth)")
        }
        let tag = try reader.read(UInt8.self, endianness: .big)
        switch tag {
        case 0x00...0x7F: return .uint(UInt64(tag))
        case 0x80...0x8F: return try map(Int(tag & 0x0F), depth: depth, start: start)
        case 0x90...0x9F: return try array(Int(tag & 0x0F), depth: depth, start: start)
        case 0xA0...0xBF: return try string(Int(tag & 0x1F), start: start)
        case 0xC0: return .none
        case 0xC2: return .bool(false)
        case 0xC3: return .bool(true)
        case 0xC4: return .binary(try range(try length(UInt8.self, "bin 8", start: start), "bin 8", start: start))
        case 0xC5: return .binary(try range(try length(UInt16.self, "bin 16", start: start), "bin 16", start: start))
        case 0xC6: return .binary(try range(try length(UInt32.self, "bin 32", start: start), "bin 32", start: start))
        case 0xC7, 0xC8, 0xC9:
            let count = tag == 0xC7 ? try length(UInt8.self, "ext 8", start: start)
                : tag == 0xC8 ? try length(UInt16.self, "ext 16", start: start) : try length(UInt32.self, "ext 32", start: start)
            let type = Int8(bitPattern: try reader.read(UInt8.self, endianness: .big))
            return .ext(type: type, try range(count, "ext", start: start))
        case 0xCA: return .float(Double(Float(bitPattern: try reader.read(UInt32.self, endianness: .big))))
        case 0xCB: return .float(Double(bitPattern: try reader.read(UInt64.self, endianness: .big)))
        case 0xCC: return .uint(UInt64(try reader.read(UInt8.self, endianness: .big)))
        case 0xCD: return .uint(UInt64(try reader.read(UInt16.self, endianness: .big)))
        case 0xCE: return .uint(UInt64(try reader.read(UInt32.self, endianness: .big)))
        case 0xCF: return .uint(try reader.read(UInt64.self, endianness: .big))
        case 0xD0: return .int(Int64(try reader.read(Int8.self, endianness: .big)))
        case 0xD1: return .int(Int64(try reader.read(Int16.self, endianness: .big)))
        case 0xD2: return .int(Int64(try reader.read(Int32.self, endianness: .big)))
        case 0xD3: return .int(try reader.read(Int64.self, endianness: .big))
        case 0xD4, 0xD5, 0xD6, 0xD7, 0xD8:
            let type = Int8(bitPattern: try reader.read(UInt8.self, endianness: .big))
            return .ext(type: type, try range(1 << Int(tag - 0xD4), "fixext", start: start))
        case 0xD9: return try string(try length(UInt8.self, "str 8", start: start), start: start)
        case 0xDA: return try string(try length(UInt16.self, "str 16", start: start), start: start)
        case 0xDB: return try string(try length(UInt32.self, "str 32", start: start), start: start)
        case 0xDC: return try array(try length(UInt16.self, "array 16", start: start), depth: depth, start: start)
        case 0xDD: return try array(try length(UInt32.self, "array 32", start: start), depth: depth, start: start)
        case 0xDE: return try map(try length(UInt16.self, "map 16", start: start), depth: depth, start: start)
        case 0xDF: return try map(try length(UInt32.self, "map 32", start: start), depth: depth, start: start)
        case 0xE0...0xFF: return .int(Int64(Int8(bitPattern: tag)))
        default: throw fail("byte 0x\(String(tag, radix: 16)) is not a MessagePack type (0xc1 is never used)", at: start)
        }
    }
}
