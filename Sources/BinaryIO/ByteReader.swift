/// The byte order of a multi-byte value in a file, spelled out at every read.
public enum Endianness: Sendable {
    case little, big
}

/// A cursor over borrowed bytes that never reads past the end: every read checks what remains first
/// and throws a `BinaryIOError` naming the offset.
package struct ByteReader {
    package let bytes: UnsafeRawBufferPointer
    /// The offset of the next byte to read, from the start of `bytes`.
    package private(set) var offset: Int
    /// The offset that `bytes` starts at inside its file, added to offsets in errors.
    package let baseOffset: Int
    /// Names the input in errors.
    package let path: String?

    package init(_ bytes: UnsafeRawBufferPointer, path: String? = nil, baseOffset: Int = 0) {
        self.bytes = bytes
        self.offset = 0
        self.baseOffset = baseOffset
        self.path = path
    }

    /// The number of bytes not read yet.
    package var remaining: Int { bytes.count - offset }

    /// Reads a fixed-width integer in the given byte order.
    package mutating func read<T: FixedWidthInteger>(_: T.Type, endianness: Endianness) throws -> T {
        let size = MemoryLayout<T>.size
        try require(size, "a \(size)-byte integer")
        let raw = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return endianness == .little ? T(littleEndian: raw) : T(bigEndian: raw)
    }

    /// Reads `count` bytes as a borrowed slice.
    package mutating func readBytes(_ count: Int) throws -> UnsafeRawBufferPointer {
        try require(count, "\(count) bytes")
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    /// Reads an unsigned LEB128 varint of at most `maxBytes` bytes (5 for varint32, 10 for varint64).
    package mutating func readVarint(maxBytes: Int = 10) throws -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<maxBytes {
            let byte = try read(UInt8.self, endianness: .little)
            let bits = UInt64(byte & 0x7F)
            if i == 9, bits > 1 { throw error("varint overflows 64 bits") }
            value |= bits << UInt64(7 * i)
            if byte & 0x80 == 0 { return value }
        }
        throw error("varint longer than \(maxBytes) bytes")
    }

    /// Reads a varint and checks that it fits an `Int` no larger than `limit`.
    package mutating func readVarintInt(maxBytes: Int = 10, limit: Int = .max, _ what: String) throws -> Int {
        let start = offset
        let raw = try readVarint(maxBytes: maxBytes)
        guard let value = Int(exactly: raw), value <= limit else {
            throw BinaryIOError(path: path, offset: baseOffset + start, reason: "\(what) \(raw) is out of range (limit \(limit))")
        }
        return value
    }

    /// Moves the cursor to `newOffset`, which must lie inside the bytes.
    package mutating func seek(to newOffset: Int) throws {
        guard newOffset >= 0, newOffset <= bytes.count else {
            throw error("seek to \(newOffset) is outside the \(bytes.count) bytes")
        }
        offset = newOffset
    }

    /// An error at the current offset.
    package func error(_ reason: String) -> BinaryIOError {
        BinaryIOError(path: path, offset: baseOffset + offset, reason: reason)
    }

    /// `what` is built only when the check fails: a reader of millions of small values must not format a
    /// message for each.
    @inline(__always)
    private func require(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, count <= remaining else {
            throw error("truncated: needed \(what()), \(remaining) bytes remain")
        }
    }
}
