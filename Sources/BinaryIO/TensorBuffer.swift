/// Owned, 64-byte aligned bytes of one tensor: what a transform produces when it must change bytes.
///
/// A class so that a buffer handed through the lazy IR is shared, not copied. `@unchecked Sendable`: its bytes are
/// written only by the code that makes it (`withMutableBytes`, before it is handed on) and only read after that.
public final class TensorBuffer: @unchecked Sendable {
    /// The number of bytes.
    public let count: Int
    private let storage: UnsafeMutableRawPointer
    /// What `calloc` returned (`storage` is this rounded up to 64 bytes), or nil for a buffer lent by `Scratch`.
    private let allocation: UnsafeMutableRawPointer?
    /// The `Scratch` buffer this one is, given back when it is freed.
    private let lent: Scratch.Block?

    /// Zero-filled bytes. `calloc` gives large buffers fresh zero pages from the kernel, so a tensor-sized buffer
    /// costs no zeroing pass before a cast or a quantizer fills it (and its memory returns to the system when freed).
    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        let (total, overflow) = count.addingReportingOverflow(64)
        precondition(!overflow, "buffer of \(count) bytes")
        guard let raw = calloc(total, 1) else { preconditionFailure("cannot allocate \(count) bytes") }
        allocation = raw
        storage = raw + ((64 - Int(bitPattern: raw) % 64) % 64)
        lent = nil
    }

    /// Bytes whose contents are undefined, for a producer that writes every one of them: from 1 MB on one of
    /// `Scratch`'s reused buffers (given back when this one is freed), so a transform that makes a tensor-sized
    /// buffer per tensor gets memory that is already faulted in instead of pages the kernel must zero.
    public convenience init(uninitializedCount count: Int) {
        precondition(count >= 0)
        if count >= 1 << 20 { self.init(count: count, lending: Scratch.take(bytes: count)) } else { self.init(count: count) }
    }

    private init(count: Int, lending block: Scratch.Block) {
        self.count = count
        lent = block
        allocation = nil
        storage = block.buffer.baseAddress!
    }

    /// A copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(uninitializedCount: bytes.count)
        if let source = bytes.baseAddress, bytes.count > 0 { storage.copyMemory(from: source, byteCount: bytes.count) }
    }

    /// A copy of an array of bytes.
    public convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    deinit {
        if let lent { Scratch.giveBack(lent) } else { free(allocation) }
    }

    /// Lends the bytes for reading.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: rawStart, count: count))
    }

    /// Lends the bytes for writing (while the buffer is being produced).
    @inlinable
    public func withMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: rawStart, count: count))
    }

    @usableFromInline
    var rawStart: UnsafeMutableRawPointer { storage }

    /// The bytes as an array (for tests and small values).
    public var bytes: [UInt8] { withBytes { Array($0) } }
}
