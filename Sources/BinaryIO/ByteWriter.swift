/// Appends values to an output in an explicit byte order: the writing twin of `ByteReader`.
///
/// The output is memory (`ByteWriter()`, read back through `bytes`) or a file being written
/// (`ByteWriter(streamingTo:)`): small writes gather in a buffer that goes to the file in large pieces, and a
/// large block (a tensor's bytes) goes straight through without a copy. Every conversion is checked: a value
/// that does not fit the width a format gives it is an error naming the offset, never silently truncated.
///
/// A streaming writer hands its last bytes to the file in `flush()` (or `commit()`, which also renames the file
/// into place), so one of them ends every write.
public struct ByteWriter {
    private var buffer: [UInt8] = []
    /// The file bytes stream to, or `nil` for an in-memory writer.
    public let file: AtomicFile?
    /// Buffered bytes beyond this go to the file.
    static let flushThreshold = 1 << 16

    /// A writer that keeps its bytes in memory.
    public init() {
        file = nil
    }

    /// A writer that streams its bytes to `file`, after what the file already holds.
    public init(streamingTo file: AtomicFile) {
        self.file = file
        buffer.reserveCapacity(Self.flushThreshold)
    }

    /// The offset of the next byte: the bytes written so far (for a file, counted from its start).
    public var offset: Int { (file?.bytesWritten ?? 0) + buffer.count }

    /// The bytes written by an in-memory writer.
    /// - Precondition: the writer was made with `init()`.
    public var bytes: [UInt8] {
        precondition(file == nil, "a streaming ByteWriter keeps no bytes; read the file")
        return buffer
    }

    // MARK: Integers and floats

    /// Appends a fixed-width integer in the given byte order.
    @inlinable
    public mutating func write<T: FixedWidthInteger>(_ value: T, endianness: Endianness) throws {
        let ordered = endianness == .little ? value.littleEndian : value.bigEndian
        try withUnsafeBytes(of: ordered) { try writeBytes($0) }
    }

    /// Appends `value` as a `T` in the given byte order, checking that it fits: a count or an offset that
    /// outgrows the field a format gives it is an error, not a wrapped number.
    @inlinable
    public mutating func write<T: FixedWidthInteger>(
        _ value: some BinaryInteger, as _: T.Type, endianness: Endianness
    ) throws {
        try write(try checked(value, as: T.self), endianness: endianness)
    }

    /// `value` as a `T`, or an error at the current offset when it does not fit (for a field whose value must
    /// be known good before the bytes in front of it are written).
    @inlinable
    public func checked<T: FixedWidthInteger>(_ value: some BinaryInteger, as _: T.Type) throws -> T {
        guard let exact = T(exactly: value) else {
            throw error("\(value) does not fit \(T.isSigned ? "a signed" : "an unsigned") \(T.bitWidth)-bit field")
        }
        return exact
    }

    /// Appends an IEEE binary32 value in the given byte order.
    @inlinable
    public mutating func write(_ value: Float, endianness: Endianness) throws {
        try write(value.bitPattern, endianness: endianness)
    }

    /// Appends an IEEE binary64 value in the given byte order.
    @inlinable
    public mutating func write(_ value: Double, endianness: Endianness) throws {
        try write(value.bitPattern, endianness: endianness)
    }

    /// Appends an unsigned LEB128 varint (protobuf's encoding; what `ByteReader.readVarint` reads).
    public mutating func writeVarint(_ value: UInt64) throws {
        var rest = value
        while rest >= 0x80 {
            buffer.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        buffer.append(UInt8(rest))
        try flushIfFull()
    }

    // MARK: Bytes

    /// Appends bytes. A large block streams straight to the file (after what is buffered).
    @usableFromInline
    package mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) throws {
        if let file, bytes.count >= Self.flushThreshold {
            try flush()
            try file.write(bytes)
        } else {
            buffer.append(contentsOf: bytes)
            try flushIfFull()
        }
    }

    /// Appends bytes.
    public mutating func writeBytes(_ bytes: some Sequence<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        try flushIfFull()
    }

    /// Appends the UTF-8 bytes of `text`, without a length or a terminator.
    public mutating func writeUTF8(_ text: String) throws {
        try writeBytes(text.utf8)
    }

    /// Appends bytes `range` of a mapped file: for a file output, file to file in the kernel where it can
    /// (`AtomicFile.write(_:range:)`), so a mapped tensor never passes through this process.
    public mutating func writeContents(of source: MappedFile, range: Range<Int>) throws {
        if let file {
            try flush()
            try file.write(source, range: range)
        } else {
            try source.withBytes(in: range) { try writeBytes($0) }
        }
    }

    /// Appends `count` copies of `byte`.
    public mutating func writeRepeating(_ byte: UInt8, count: Int) throws {
        guard count >= 0 else { throw error("cannot write \(count) bytes") }
        buffer.append(contentsOf: repeatElement(byte, count: count))
        try flushIfFull()
    }

    /// Appends `count` zero bytes.
    public mutating func writeZeros(_ count: Int) throws {
        try writeRepeating(0, count: count)
    }

    /// Appends `byte` until `offset` is a multiple of `alignment`; returns how many bytes that took.
    /// - Precondition: `alignment > 0`.
    @discardableResult
    public mutating func pad(toMultipleOf alignment: Int, with byte: UInt8 = 0) throws -> Int {
        precondition(alignment > 0, "alignment must be positive")
        let count = Self.padding(at: offset, alignment: alignment)
        try writeRepeating(byte, count: count)
        return count
    }

    /// The bytes that take `offset` to the next multiple of `alignment` (0 when it is one).
    public static func padding(at offset: Int, alignment: Int) -> Int {
        precondition(alignment > 0 && offset >= 0, "alignment must be positive and the offset not negative")
        return (alignment - offset % alignment) % alignment
    }

    // MARK: Output

    /// Hands the buffered bytes to the file (nothing to do in memory).
    public mutating func flush() throws {
        guard let file, !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try file.write($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, then syncs the file and renames it into place (`AtomicFile.commit()`).
    /// - Precondition: the writer streams to a file.
    public mutating func commit() throws {
        guard let file else { preconditionFailure("an in-memory ByteWriter has no file to commit") }
        try flush()
        try file.commit()
    }

    /// An error at the current offset, naming the file's destination when there is one.
    public func error(_ reason: String) -> BinaryIOError {
        BinaryIOError(path: file?.destination, offset: offset, reason: reason)
    }

    @inline(__always)
    private mutating func flushIfFull() throws {
        if file != nil, buffer.count >= Self.flushThreshold { try flush() }
    }
}
