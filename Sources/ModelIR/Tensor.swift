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
        case mapped(MappedFile, Range<Int>, check: (@Sendable (UnsafeRawBufferPointer) throws -> Void)?)
        case owned(TensorBuffer)
        case producer(@Sendable () throws -> TensorBuffer)
        case filled(count: Int, piece: Int?, Fill)
    }

    /// Computes bytes `offset ..< offset + destination.count` of a filled tensor into `destination`, every byte of it.
    public typealias Fill = @Sendable (_ offset: Int, _ destination: UnsafeMutableRawBufferPointer) throws -> Void

    let storage: Storage

    /// Bytes `range` of a mapped file. `check`, when given, runs over them the first time they are read
    /// (a checksum, say) and throws on a mismatch; once it has passed, later reads (and slices) skip it, so
    /// many views of one checked record cost one check.
    public static func mapped(
        _ file: MappedFile, range: Range<Int>, check: (@Sendable (UnsafeRawBufferPointer) throws -> Void)? = nil
    ) -> TensorData {
        guard let check else { return TensorData(storage: .mapped(file, range, check: nil)) }
        let once = OnceCheck(check)
        return TensorData(storage: .mapped(file, range, check: { try once.run($0) }))
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

    /// `count` bytes computed straight into wherever they go: a writer lends `fill` the output's own pages
    /// (`ByteWriter.writeFilled`), so a transform (a transpose, a cast) writes its result once, with no buffer in
    /// between; reading the bytes (`withBytes`, `buffer()`) fills a buffer instead. `fill` is called for consecutive
    /// pieces of `piece` bytes (the last may be shorter), or once for all of them when `piece` is `nil`.
    /// - Precondition: `count >= 0` and `piece`, when given, is positive.
    public static func filled(count: Int, piece: Int? = nil, _ fill: @escaping Fill) -> TensorData {
        precondition(count >= 0 && (piece ?? 1) > 0, "filled data of \(count) bytes in pieces of \(piece ?? count)")
        return TensorData(storage: .filled(count: count, piece: piece, fill))
    }

    /// For filled data: the byte count, the window to fill at a time and the fill.
    var fillPlan: (count: Int, window: Int, fill: Fill)? {
        guard case let .filled(count, piece, fill) = storage else { return nil }
        return (count, max(1, piece ?? count), fill)
    }

    /// Whether the bytes come straight from a file mapping.
    public var isMapped: Bool {
        if case .mapped = storage { return true }
        return false
    }

    /// Lends the bytes to `body`, computing them first if needed. Mapped bytes leave the process's resident
    /// memory again afterwards (`MappedFile.withBytesReleasing`): a tensor is read whole by a writer or a transform,
    /// so the pages of a tensor already written do not pile up while the next ones are read.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        switch storage {
        case let .mapped(file, range, check):
            return try file.withBytesReleasing(in: range) { bytes in
                try check?(bytes)
                return try body(bytes)
            }
        case .owned(let buffer):
            return try buffer.withBytes(body)
        case .producer(let produce):
            return try produce().withBytes(body)
        case .filled:
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
            if let check { try file.withBytesReleasing(in: range) { try check($0) } }
            try output.write(file, range: range)
        } else if let (count, window, fill) = fillPlan {
            try output.write(count: count, window: window, fill)
        } else {
            try withBytes { try output.write($0) }
        }
    }

    /// Bytes `range` of this data: still a mapping when it is one (and has no whole-buffer check),
    /// else copied out when read.
    public func slice(_ range: Range<Int>) -> TensorData {
        if case let .mapped(file, whole, check) = storage, range.upperBound <= whole.count {
            let part = (whole.lowerBound + range.lowerBound)..<(whole.lowerBound + range.upperBound)
            guard let check else { return .mapped(file, range: part) }
            // The check covers the whole record; it runs once (`OnceCheck`) whichever slice is read first.
            return TensorData(storage: .mapped(file, part, check: { _ in try file.withBytesReleasing(in: whole) { try check($0) } }))
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
    /// reads the whole record first and releases it too). Other data is computed once and lent in pieces.
    public func withPieces(of size: Int, _ body: (_ offset: Int, _ piece: UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(size > 0)
        guard case let .mapped(file, range, check) = storage else {
            return try withBytes { try TensorData.lendPieces(of: $0, size: size, body) }
        }
        if let check { try file.withBytesReleasing(in: range) { try check($0) } }
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
        case let .filled(count, piece, fill):
            let output = TensorBuffer(count: count)
            try output.withMutableBytes { whole in
                let step = max(1, piece ?? count)
                for offset in stride(from: 0, to: count, by: step) {
                    try fill(offset, UnsafeMutableRawBufferPointer(rebasing: whole[offset..<min(count, offset + step)]))
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
        guard let expected = info.byteCount else {
            throw ModelError(location: .tensor(name), "shape \(shape) of \(dtype.rawValue) has no valid byte size")
        }
        if case let .mapped(_, range, _) = data.storage, range.count != expected {
            throw ModelError(location: .tensor(name), "has \(range.count) bytes, but \(dtype.rawValue) \(shape) needs \(expected)")
        }
        if let count = data.fillPlan?.count, count != expected {
            throw ModelError(location: .tensor(name), "has \(count) bytes, but \(dtype.rawValue) \(shape) needs \(expected)")
        }
        if data.isMapped || data.fillPlan != nil {
            try data.write(to: output)
        } else {
            try withBytes { try output.write($0) }
        }
    }

    /// `TensorData.withPieces`, after checking that the byte count matches the declared dtype and shape.
    public func withPieces(of size: Int, _ body: (_ offset: Int, _ piece: UnsafeRawBufferPointer) throws -> Void) throws {
        guard let expected = info.byteCount else {
            throw ModelError(location: .tensor(name), "shape \(shape) of \(dtype.rawValue) has no valid byte size")
        }
        if case let .mapped(_, range, _) = data.storage {
            guard range.count == expected else {
                throw ModelError(location: .tensor(name), "has \(range.count) bytes, but \(dtype.rawValue) \(shape) needs \(expected)")
            }
            return try data.withPieces(of: size, body)
        }
        try withBytes { try TensorData.lendPieces(of: $0, size: size, body) }
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

/// A check that runs until it passes once.
private final class OnceCheck: Sendable {
    let check: @Sendable (UnsafeRawBufferPointer) throws -> Void
    let passed = Atomic<Bool>(false)

    init(_ check: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) { self.check = check }

    func run(_ bytes: UnsafeRawBufferPointer) throws {
        if passed.load(ordering: .acquiring) { return }
        try check(bytes)
        passed.store(true, ordering: .releasing)
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
