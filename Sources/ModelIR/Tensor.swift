import BinaryIO
import Synchronization

/// What a tensor is, without its bytes: enough for a writer to lay out a header before reading anything.
public struct TensorInfo: Hashable, Sendable {
    public var name: String
    public var dtype: DType
    public var shape: Shape

    public init(name: String, dtype: DType, shape: Shape) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// The number of elements (`nil` on overflow).
    public var elementCount: Int? { shape.elementCount }

    /// The bytes the tensor's data takes, or `nil` when the shape overflows or does not fill whole blocks.
    public var byteCount: Int? { elementCount.flatMap { dtype.byteCount(elements: $0) } }
}

/// Where a tensor's bytes are: a region of a memory-mapped file (zero copy), an owned buffer, or a
/// producer that computes them when first asked (a transform not yet run).
///
/// Nothing is read or computed until `withBytes` or `buffer()` is called, so a model can be listed,
/// renamed and planned at the cost of its header.
public struct TensorData: Sendable {
    enum Storage: Sendable {
        case mapped(MappedFile, Range<Int>, check: RecordCheck?)
        case owned(TensorBuffer)
        case producer(@Sendable () throws -> TensorBuffer)
        case streamed(count: Int, Stream)
    }

    /// Produces a streamed tensor's bytes in order, handing consecutive pieces of them to `emit`.
    public typealias Stream = @Sendable (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void

    let storage: Storage

    /// Bytes `range` of a mapped file. `checksum`, when given, is computed over them the first time they are read
    /// and a mismatch throws; once it has passed, later reads (and slices) skip it, so many views of one checked
    /// record cost one check.
    public static func mapped(_ file: MappedFile, range: Range<Int>, checksum: RecordChecksum? = nil) -> TensorData {
        TensorData(storage: .mapped(file, range, check: checksum.map { RecordCheck($0, file: file, record: range) }))
    }

    /// Bytes computed on first use and then kept (a deflated record that several views share): one
    /// computation however many tensors slice it.
    public static func cached(_ produce: @escaping @Sendable () throws -> TensorBuffer) -> TensorData {
        let cache = Cache(produce)
        return TensorData(storage: .producer { try cache.value() })
    }

    /// Bytes held in memory.
    public static func owned(_ buffer: TensorBuffer) -> TensorData { TensorData(storage: .owned(buffer)) }

    /// Bytes computed on demand (each time they are asked for; writers ask once).
    public static func producer(_ produce: @escaping @Sendable () throws -> TensorBuffer) -> TensorData {
        TensorData(storage: .producer(produce))
    }

    /// `count` bytes that `stream` computes piece by piece, in order, into a buffer of its own: a writer writes each
    /// piece as it comes (`AtomicFile.write`), so a transform whose result is cheap to compute in cache-sized pieces
    /// (a transpose in strips of output rows) holds one piece at a time and never fills the output twice. Reading the
    /// bytes (`withBytes`, `buffer()`) gathers them into a buffer instead. A stream that hands over more or fewer
    /// than `count` bytes is an error.
    /// - Precondition: `count >= 0`.
    public static func streamed(count: Int, _ stream: @escaping Stream) -> TensorData {
        precondition(count >= 0, "streamed data of \(count) bytes")
        return TensorData(storage: .streamed(count: count, stream))
    }

    /// Runs `stream`, handing each piece to `body` with its offset, and checks that the pieces add up to `count` bytes.
    static func run(_ stream: Stream, count: Int, _ body: (_ offset: Int, _ piece: UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        try withoutActuallyEscaping(body) { body in
            try stream { piece in
                guard piece.count <= count - offset else {
                    throw ModelError("a transform produced more than the \(count) bytes it declared")
                }
                try body(offset, piece)
                offset += piece.count
            }
        }
        guard offset == count else { throw ModelError("a transform produced \(offset) of the \(count) bytes it declared") }
    }

    /// For streamed data: the byte count and the stream.
    var streamPlan: (count: Int, stream: Stream)? {
        guard case let .streamed(count, stream) = storage else { return nil }
        return (count, stream)
    }

    /// The byte count when it is known without computing anything (a mapping, a streamed transform), else nil.
    public var byteCountIfKnown: Int? {
        switch storage {
        case .mapped(_, let range, _): return range.count
        case .streamed(let count, _): return count
        case .owned(let buffer): return buffer.count
        case .producer: return nil
        }
    }

    /// Whether the bytes come straight from a file mapping.
    public var isMapped: Bool {
        if case .mapped = storage { return true }
        return false
    }

    /// The zip CRC-32 of these bytes as their file stores it, when they are a whole record checked against it (a
    /// stored tensor of a torch zip): the value is theirs only once the check has passed, so take it after a read or
    /// `write(to:)` returned without an error.
    public var recordZipCRC32: UInt32? {
        guard case let .mapped(_, range, check?) = storage, range == check.record else { return nil }
        return check.checksum.storedZipCRC32
    }

    /// Lends the bytes to `body`, computing them first if needed. Mapped bytes leave the process's resident
    /// memory again afterwards (`MappedFile.withBytesReleasing`): a tensor is read whole by a writer or a transform,
    /// so the pages of a tensor already written do not pile up while the next ones are read.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        switch storage {
        case let .mapped(file, range, check):
            return try file.withBytesReleasing(in: range) { bytes in
                try check?.run(over: bytes, at: range)
                return try body(bytes)
            }
        case .owned(let buffer):
            return try buffer.withBytes(body)
        case .producer(let produce):
            return try produce().withBytes(body)
        case .streamed:
            return try buffer().withBytes(body)
        }
    }

    /// Whether `withMappedBytes(in:_:)` lends parts of the data: it is a mapping with no whole-record check.
    public var lendsRanges: Bool {
        if case .mapped(_, _, nil) = storage { return true }
        return false
    }

    /// Lends bytes `range` (offsets into this data) straight from the mapping, then releases their pages; nil (and
    /// `body` not run) when the data is not a mapping without a check (`lendsRanges`) or the range lies outside it.
    public func withMappedBytes<R>(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        guard case .mapped(let file, let whole, nil) = storage, range.lowerBound >= 0, range.upperBound <= whole.count else { return nil }
        return try file.withBytesReleasing(in: (whole.lowerBound + range.lowerBound)..<(whole.lowerBound + range.upperBound), body)
    }

    /// Appends the bytes to `output`: mapped bytes go file to file (no copy through this process), after their
    /// check when they have one; the rest are computed, then written.
    public func write(to output: AtomicFile) throws {
        if case let .mapped(file, range, check) = storage {
            guard let check else { return try output.write(file, range: range) }
            try check.run { try output.write(file, range: range) }
        } else if let (count, stream) = streamPlan {
            try TensorData.run(stream, count: count) { _, piece in try output.write(piece) }
        } else {
            try withBytes { try output.write($0) }
        }
    }

    /// Bytes `range` of this data: still a mapping when it is one (and has no whole-buffer check),
    /// else copied out when read.
    public func slice(_ range: Range<Int>) -> TensorData {
        if case let .mapped(file, whole, check) = storage, range.upperBound <= whole.count {
            let part = (whole.lowerBound + range.lowerBound)..<(whole.lowerBound + range.upperBound)
            // The check covers the whole record; it runs once whichever slice is read first.
            return TensorData(storage: .mapped(file, part, check: check))
        }
        let source = self
        return .producer {
            try source.withBytes { bytes in
                guard range.upperBound <= bytes.count else {
                    throw ModelError("slice \(range) lies outside the \(bytes.count) bytes of its storage")
                }
                return TensorBuffer(copying: UnsafeRawBufferPointer(rebasing: bytes[range]))
            }
        }
    }

    /// Lends the bytes in consecutive pieces of at most `size` bytes (the last may be shorter), each with its offset.
    /// Mapped bytes are lent straight from the mapping and each piece's pages leave resident memory once it has been
    /// used, so a pass over a large tensor holds one piece of it at a time (after its check, when it has one, which
    /// reads the whole record first and releases it too). Streamed data is lent as it is computed; other data is
    /// computed once and lent in pieces.
    public func withPieces(of size: Int, _ body: (_ offset: Int, _ piece: UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(size > 0)
        if let (count, stream) = streamPlan {
            // Streamed data is lent as it is computed, never gathered whole: its pieces are regrouped into pieces of
            // exactly `size` bytes in one buffer (the stream's own pieces end wherever the transform's strips do).
            return try Scratch.withBuffer(bytes: min(size, count)) { buffer in
                var filled = 0, lent = 0
                try TensorData.run(stream, count: count) { _, piece in
                    var taken = 0
                    while taken < piece.count {
                        let n = min(buffer.count - filled, piece.count - taken)
                        UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + n)])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: piece[taken..<(taken + n)]))
                        (filled, taken) = (filled + n, taken + n)
                        if filled == buffer.count {
                            try body(lent, UnsafeRawBufferPointer(buffer))
                            (lent, filled) = (lent + filled, 0)
                        }
                    }
                }
                if filled > 0 { try body(lent, UnsafeRawBufferPointer(rebasing: buffer[0..<filled])) }
            }
        }
        guard case let .mapped(file, range, check) = storage else {
            return try withBytes { try TensorData.lendPieces(of: $0, size: size, body) }
        }
        try check?.run()
        for start in stride(from: range.lowerBound, to: range.upperBound, by: size) {
            let piece = start..<min(range.upperBound, start + size)
            try file.withBytes(in: piece) { try body(start - range.lowerBound, $0) }
            file.releasePages(in: piece)
        }
    }

    /// Lends `bytes` to `body` in consecutive pieces of at most `size` bytes, each with its offset.
    static func lendPieces(of bytes: UnsafeRawBufferPointer, size: Int,
                           _ body: (_ offset: Int, _ piece: UnsafeRawBufferPointer) throws -> Void) throws {
        for start in stride(from: 0, to: bytes.count, by: size) {
            try body(start, UnsafeRawBufferPointer(rebasing: bytes[start..<min(bytes.count, start + size)]))
        }
    }

    /// The bytes as an owned buffer (a copy for mapped data).
    public func buffer() throws -> TensorBuffer {
        switch storage {
        case .owned(let buffer): return buffer
        case .producer(let produce): return try produce()
        case .mapped: return try withBytes { TensorBuffer(copying: $0) }
        case let .streamed(count, stream):
            let output = TensorBuffer(count: count)
            try output.withMutableBytes { whole in
                try TensorData.run(stream, count: count) { offset, piece in
                    UnsafeMutableRawBufferPointer(rebasing: whole[offset..<(offset + piece.count)]).copyMemory(from: piece)
                }
            }
            return output
        }
    }
}

/// One named tensor of a model: its info and where its bytes are.
public struct Tensor: Sendable {
    public var info: TensorInfo
    public var data: TensorData

    public init(info: TensorInfo, data: TensorData) {
        self.info = info
        self.data = data
    }

    public init(name: String, dtype: DType, shape: Shape, data: TensorData) {
        self.init(info: TensorInfo(name: name, dtype: dtype, shape: shape), data: data)
    }

    public var name: String {
        get { info.name }
        set { info.name = newValue }
    }
    public var dtype: DType { info.dtype }
    public var shape: Shape { info.shape }

    /// Appends the bytes to `output`, after checking that their count matches the declared dtype and shape.
    public func write(to output: AtomicFile) throws {
        if try checkedByteCount() {
            try data.write(to: output)
        } else {
            try withBytes { try output.write($0) }
        }
    }

    /// `TensorData.withPieces`, after checking that the byte count matches the declared dtype and shape.
    public func withPieces(of size: Int, _ body: (_ offset: Int, _ piece: UnsafeRawBufferPointer) throws -> Void) throws {
        if try checkedByteCount() { return try data.withPieces(of: size, body) }
        try withBytes { try TensorData.lendPieces(of: $0, size: size, body) }
    }

    /// Checks the data's byte count against the declared dtype and shape where it is known without computing anything
    /// (`TensorData.byteCountIfKnown`: a mapping, a stream, a buffer), and returns whether it was; otherwise the caller
    /// reads through `withBytes`, which checks the computed bytes.
    func checkedByteCount() throws -> Bool {
        guard let expected = info.byteCount else {
            throw ModelError(location: .tensor(name), "shape \(shape) of \(dtype.rawValue) has no valid byte size")
        }
        guard let count = data.byteCountIfKnown else { return false }
        guard count == expected else {
            throw ModelError(location: .tensor(name), "has \(count) bytes, but \(dtype.rawValue) \(shape) needs \(expected)")
        }
        return true
    }

    /// Lends the bytes, after checking that their count matches the declared dtype and shape.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let expected = info.byteCount else {
            throw ModelError(location: .tensor(name), "shape \(shape) of \(dtype.rawValue) has no valid byte size")
        }
        do {
            return try data.withBytes { bytes in
                guard bytes.count == expected else {
                    throw ModelError(location: .tensor(name),
                                     "has \(bytes.count) bytes, but \(dtype.rawValue) \(shape) needs \(expected)")
                }
                return try body(bytes)
            }
        } catch let error as ModelError {
            var error = error
            if error.location == nil { error.location = .tensor(name) }
            throw error
        }
    }
}

/// A checksum that a record's bytes must match, computed over them piece by piece in order.
public struct RecordChecksum: Sendable {
    /// Advances the running value over the next piece of the record.
    public typealias Update = @Sendable (_ running: UInt32, _ piece: UnsafeRawBufferPointer) -> UInt32

    let initial: UInt32
    let update: Update
    let verify: @Sendable (_ value: UInt32) throws -> Void
    /// The zip CRC-32 (PKWARE APPNOTE.TXT §4.4.7) the file stores for the record, when that is what this checksum
    /// checks: a writer that needs the CRC-32 of the same bytes takes it once the check has passed.
    let storedZipCRC32: UInt32?

    /// A checksum that starts from `initial`, advances with `update` and is judged by `verify`, which throws when the
    /// final value is not the one the file stores; `storedZipCRC32` is that value when the checksum is the zip CRC-32.
    public init(initial: UInt32 = 0, update: @escaping Update, storedZipCRC32: UInt32? = nil,
                verify: @escaping @Sendable (_ value: UInt32) throws -> Void) {
        self.initial = initial
        self.update = update
        self.storedZipCRC32 = storedZipCRC32
        self.verify = verify
    }
}

/// The check of one mapped record, shared by every view of it (slices): runs until it passes once.
final class RecordCheck: Sendable {
    let checksum: RecordChecksum
    let file: MappedFile
    /// The checked bytes of `file`.
    let record: Range<Int>
    /// Whether the check has passed; held while a check runs, so views checked at once compute it once.
    private let passed = Mutex(false)

    init(_ checksum: RecordChecksum, file: MappedFile, record: Range<Int>) {
        self.checksum = checksum
        self.file = file
        self.record = record
    }

    /// Whether the check has yet to pass.
    var needsRun: Bool { !passed.withLock { $0 } }

    /// Judges a checksum computed over the whole record.
    func finish(_ value: UInt32) throws {
        try checksum.verify(value)
        passed.withLock { $0 = true }
    }

    /// Checks the record, reading it through the mapping 4 MB at a time and releasing each piece's pages after it, so
    /// a large record costs about one piece of resident memory.
    func run() throws {
        try passed.withLock { passed in
            guard !passed else { return }
            var running = checksum.initial
            file.withPieces(in: record, size: 4 << 20) { running = checksum.update(running, $0) }
            try checksum.verify(running)
            passed = true
        }
    }

    /// Checks the record while `copy` runs on another core (a kernel-side copy of the same bytes to an output): the
    /// check costs no time beside the copy. A mismatch is reported before an error of `copy`, and `copy`'s output is
    /// then the caller's to abandon (a writer never commits a file after an error). Small records are checked first.
    func run(alongside copy: () throws -> Void) throws {
        guard needsRun, record.count >= 4 << 20 else {
            try run()
            return try copy()
        }
        try Parallel.both({ try run() }, copy)
    }

    /// Checks the record, given `bytes` of the file (at `range`) that are already at hand: they are checksummed
    /// when they are the whole record, else the record is read (`run()`).
    func run(over bytes: UnsafeRawBufferPointer, at range: Range<Int>) throws {
        guard needsRun else { return }
        guard range == record else { return try run() }
        try finish(checksum.update(checksum.initial, bytes))
    }
}

/// A buffer computed once and kept.
private final class Cache: Sendable {
    let produce: @Sendable () throws -> TensorBuffer
    let buffer = Mutex<TensorBuffer?>(nil)

    init(_ produce: @escaping @Sendable () throws -> TensorBuffer) { self.produce = produce }

    func value() throws -> TensorBuffer {
        try buffer.withLock { cached in
            if let cached { return cached }
            let made = try produce()
            cached = made
            return made
        }
    }
}
