/// The byte order of a multi-byte value in a file, spelled out at every read.
public enum Endianness: Sendable {
    case little, big
}

/// A cursor over borrowed bytes that never reads past the end: every read checks what remains first
/// and throws a `BinaryIOError` naming the offset.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    /// The offset of the next byte to read, from the start of `bytes`.
    public private(set) var offset: Int
    /// The offset that `bytes` starts at inside its file, added to offsets in errors.
    public let baseOffset: Int
    /// Names the input in errors.
    public let path: String?

    public init(_ bytes: UnsafeRawBufferPointer, path: String? = nil, baseOffset: Int = 0) {
        self.bytes = bytes
        self.offset = 0
        self.baseOffset = baseOffset
        self.path = path
    }

    /// The number of bytes not read yet.
    public var remaining: Int { bytes.count - offset }

    /// Reads a fixed-width integer in the given byte order.
    public mutating func read<T: FixedWidthInteger>(_: T.Type, endianness: Endianness) throws -> T {
        let size = MemoryLayout<T>.size
        try require(size, "a \(size)-byte integer")
        let raw = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return endianness == .little ? T(littleEndian: raw) : T(bigEndian: raw)
    }

    /// Reads `count` bytes as a borrowed slice.
    public mutating func readBytes(_ count: Int) throws -> UnsafeRawBufferPointer {
        try require(count, "\(count) bytes")
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    /// Moves the cursor to `newOffset`, which must lie inside the bytes.
    public mutating func seek(to newOffset: Int) throws {
        guard newOffset >= 0, newOffset <= bytes.count else {
            throw error("seek to \(newOffset) is outside the \(bytes.count) bytes")
        }
        offset = newOffset
    }

    /// An error at the current offset.
    public func error(_ reason: String) -> BinaryIOError {
        BinaryIOError(path: path, offset: baseOffset + offset, reason: reason)
    }

    private func require(_ count: Int, _ what: String) throws {
        guard count >= 0, count <= remaining else {
            throw error("truncated: needed \(what), \(remaining) bytes remain")
        }
    }
}
