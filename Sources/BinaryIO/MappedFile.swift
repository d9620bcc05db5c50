import Synchronization

/// A read-only memory mapping of a whole file.
///
/// Readers keep tensors as ranges of a mapping, so listing a 1 GB checkpoint touches only its header pages.
/// The mapping lives as long as any tensor refers to it. Pointers are lent to closures only. `@unchecked Sendable`:
/// the mapping is read-only and its address and size never change after `init`.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The file's size in bytes.
    public let count: Int
    private let base: UnsafeRawPointer?
    /// The open descriptor, kept for kernel-side copies (`copy_file_range`) out of the file.
    let descriptor: Int32

    /// Maps `path` read-only. A directory, a device, a FIFO or an unreadable file is an error.
    ///
    /// The file is opened non-blocking, so a FIFO or a device is refused by the type check below instead
    /// of blocking `open` until a writer appears.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw BinaryIOError.system(path, "cannot open") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw BinaryIOError.system(path, "cannot stat")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG, let size = Int(exactly: info.st_size) else {
            close(fd)
            throw BinaryIOError(path: path, reason: "not a regular file")
        }
        count = size
        descriptor = fd
        if size == 0 {
            base = nil
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            close(fd)
            throw BinaryIOError.system(path, "cannot map \(size) bytes")
        }
        #if os(Linux)
        // No huge-page (PMD) mappings of the file's pages. Since Linux 6.x a file written in large buffered writes
        // sits in the page cache as large folios, and a read fault may then map a whole 2 MB folio at once: a
        // reader touching a few bytes of each small tensor (a pickle's opcodes, a 4 KB bias's checksum) would keep
        // megabytes of every region resident, far more than the one tensor the writers hold
        // (madvise(2): MADV_NOHUGEPAGE).
        _ = madvise(address, size, MappedFile.noHugePages)
        #endif
        base = UnsafeRawPointer(address)
    }

    /// The bytes of the small file at `path` (a vocabulary, a config), refusing files over `maxBytes` and
    /// anything that is not a regular file.
    public static func contents(of path: String, maxBytes: Int = 256 << 20) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        guard file.count <= maxBytes else {
            throw BinaryIOError(path: path, reason: "file of \(file.count) bytes exceeds the \(maxBytes)-byte limit")
        }
        return file.withBytes { Array($0) }
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
        close(descriptor)
    }

    /// Lends the bytes of `range` (the whole file when `nil`) to `body`.
    /// - Precondition: `range` lies inside the file; callers validate offsets read from files first.
    @inlinable
    public func withBytes<R>(in range: Range<Int>? = nil, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let range = range ?? 0..<count
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) outside \(path) (\(count) bytes)")
        return try body(slice(range))
    }

    /// Drops the pages of `range` from this process's resident memory (`madvise(MADV_DONTNEED)`; POSIX
    /// `posix_madvise` has no equivalent that frees). The file's pages stay in the kernel's page cache, and a later
    /// read of the range maps them again, so this never changes what is read: a writer calls it once a tensor's
    /// bytes are written, and the process's resident set stays near one tensor however large the file.
    ///
    /// The range is widened to whole 2 MB blocks of the file (the neighbours' pages are read back on demand if they are
    /// needed): a read fault on a large page-cache folio (a freshly written file is cached in folios of up to 2 MB)
    /// maps the whole folio, not just the page read, so releasing only the bytes that were read would leave the rest
    /// of it resident, and reads of many small tensors would pile up most of the file.
    public func releasePages(in range: Range<Int>) {
        guard let base, !range.isEmpty, range.lowerBound >= 0, range.upperBound <= count else { return }
        let block = MappedFile.largestFolio
        let start = range.lowerBound / block * block
        let end = min(count, (range.upperBound + block - 1) / block * block)
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MappedFile.dontNeed)
    }

    /// Lends the bytes of `range` to `body` in consecutive pieces of at most `size` bytes through the mapping, and
    /// releases each piece's pages once `body` has read it (`releasePages(in:)`): for a pass that only reads (a
    /// checksum), so that it costs the process about one piece of resident memory however large the range, and no copy
    /// out of the page cache (with `pread`, that copy took as long as the checksum).
    public func withPieces(in range: Range<Int>, size: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        precondition(range.lowerBound >= 0 && range.upperBound <= count && size > 0, "range \(range) outside \(path) (\(count) bytes)")
        for offset in stride(from: range.lowerBound, to: range.upperBound, by: size) {
            try withBytesReleasing(in: offset..<min(range.upperBound, offset + size), body)
        }
    }

    /// Lends the bytes of `range` to `body`, then releases their pages (`releasePages(in:)`): for reading a tensor
    /// once, as writers and casts do. Small ranges too: the kernel may map a whole large folio of the page cache
    /// (up to megabytes) for a read of a few bytes, so a skipped release of a 4 KB bias can keep far more resident.
    @inlinable
    public func withBytesReleasing<R>(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        defer { releasePages(in: range) }
        return try withBytes(in: range, body)
    }

    /// The largest page-cache folio a read fault may map at once: a PMD-sized 2 MB on x86-64 and on arm64 with 4 KB
    /// pages (a multiple of the page size everywhere).
    static let largestFolio = max(2 << 20, pageSize)

    private static let pageSize: Int = {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? size : 4096
    }()

    #if os(Linux)
    private static let noHugePages = Int32(MADV_NOHUGEPAGE)
    #endif

    #if canImport(Darwin)
    private static let dontNeed = MADV_DONTNEED
    #else
    private static let dontNeed = Int32(MADV_DONTNEED)
    #endif

    @usableFromInline
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        guard let base, !range.isEmpty else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

}

/// Releases a mapped file's pages behind a pass that moves forward through it: a parse that walks from header to
/// header between the tensors of a file (a pickle, a protobuf, a MessagePack map, a sequence of records). Each such
/// read maps a whole page-cache folio (up to 2 MB), so without this the parse of a large file would keep a good part
/// of it resident; the parse calls `release(upTo:)` with an offset it has passed, and the pages before it not
/// released yet are released (`MappedFile.releasePages`, widened to 2 MB blocks; a neighbour still needed is read
/// back on demand).
public final class PagesBehind: Sendable {
    public let file: MappedFile
    private let released = Mutex(0)

    public init(_ file: MappedFile) { self.file = file }

    /// Releases the pages of bytes before `end` that are not released yet.
    public func release(upTo end: Int) {
        let start = released.withLock { done -> Int? in
            guard end > done else { return nil }
            defer { done = end }
            return done
        }
        if let start { file.releasePages(in: start..<min(end, file.count)) }
    }
}
