import CSystemShims

/// What to do when the destination of an output already exists.
public enum ExistingOutputPolicy: Sendable {
    /// Refuse with an error that suggests `--force`.
    case refuse
    /// Replace it, atomically, once the new output is complete.
    case replace
}

/// A file written under a temporary name beside its destination and renamed into place by `commit()`.
///
/// Until `commit()` succeeds the destination is untouched; an error (or dropping the value) removes the
/// temporary file, so a failure never leaves half a file behind.
public final class AtomicFile {
    /// Where the file lands on `commit()`.
    public let destination: String
    /// The file being written until then.
    public let temporaryPath: String
    /// The number of bytes written so far.
    public private(set) var bytesWritten: Int = 0

    private var fd: Int32
    private var pending: [UInt8] = []
    private var committed = false
    private let existing: ExistingOutputPolicy
    /// The slot under which a fatal signal removes the temporary file.
    private var cleanupSlot: Int32 = -1
    private var kernelCopyWorks = true
    /// The bytes in the file so far (written or kernel-copied; `pending` not yet), and the offset up to which
    /// writeback to disk has been started (`startWriteback`).
    private var inFile = 0
    private var writebackStarted = 0
    /// The thread that starts writeback (created at the first 4 MB; nil until then, or where it cannot run).
    private var writeback: OpaquePointer?
    private var writebackThreadFailed = false
    private static let bufferCapacity = 1 << 20
    /// How much is copied or written between two writeback requests: measured on a 2-core VM, 4 MB steps finished
    /// a 123 MB copy in 92 ms (median; 112 ms with 16 MB steps, `cp` + `sync` 111 ms) and a 1.35 GB one in 0.73 s (0.75 s).
    private static let writebackStep = 4 << 20

    /// Creates the temporary file. With `.refuse`, an existing `destination` is an error.
    public init(destination: String, existing: ExistingOutputPolicy = .refuse) throws {
        self.destination = destination
        self.existing = existing
        temporaryPath = try temporaryPathBeside(destination, existing: existing, folder: false)
        // Read and write: a shared writable mapping (`write(count:window:_:)`) needs a descriptor open for both.
        fd = open(temporaryPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BinaryIOError.system(temporaryPath, "cannot create") }
        cleanupSlot = registerForCleanup(temporaryPath)
        pending.reserveCapacity(Self.bufferCapacity)
    }

    deinit {
        if !committed { abandon() }
    }

    /// Appends bytes. Small writes are gathered; large ones go straight to the file.
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        if pending.count + bytes.count <= Self.bufferCapacity {
            pending.append(contentsOf: bytes)
        } else {
            try flush()
            if bytes.count >= Self.bufferCapacity { try writeAll(bytes) } else { pending.append(contentsOf: bytes) }
        }
        bytesWritten += bytes.count
    }

    /// Appends bytes `range` of a mapped file. On Linux the kernel copies large ranges file to file
    /// (`copy_file_range`), so they never pass through this process; elsewhere, or when the kernel
    /// declines, they are written from the mapping. The kernel copies `writebackStep` at a time, so the writeback of each
    /// step starts while the next one is copied (a 64 MB embedding matrix would otherwise reach the disk only
    /// after all of it is in the page cache).
    public func write(_ file: MappedFile, range: Range<Int>) throws {
        precondition(range.lowerBound >= 0 && range.upperBound <= file.count)
        if range.count >= Self.bufferCapacity, kernelCopyWorks {
            try flush()
            var sourceOffset = Int64(range.lowerBound)
            var left = range.count
            while left > 0 {
                let n = modelport_copy_file_range(file.descriptor, &sourceOffset, fd, min(left, Self.writebackStep))
                if n < 0 {
                    if errno == EINTR { continue }
                    if [EXDEV, ENOSYS, EINVAL, EOPNOTSUPP, EBADF].contains(errno), left == range.count {
                        kernelCopyWorks = false
                        break
                    }
                    throw BinaryIOError.system(temporaryPath, "cannot copy from \(file.path)")
                }
                if n == 0 { throw BinaryIOError(path: file.path, reason: "file shrank while being read") }
                left -= n
                inFile += n
                startWriteback()
            }
            if kernelCopyWorks {
                bytesWritten += range.count
                return
            }
        }
        try file.withBytesReleasing(in: range) { try write($0) }
    }

    /// Appends the bytes of an array.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends `count` zero bytes (padding).
    public func writeZeros(_ count: Int) throws {
        try write([UInt8](repeating: 0, count: count))
    }

    /// Flushes, syncs to disk and renames the file into place.
    public func commit() throws {
        precondition(!committed, "committed twice")
        try flush()
        stopWriteback()
        guard fsync(fd) == 0 else { throw BinaryIOError.system(temporaryPath, "cannot sync") }
        close(fd)
        fd = -1
        defer {
            modelport_release_temporary(cleanupSlot)
            committed = true
        }
        do {
            try renameIntoPlace(temporaryPath, destination, replacing: existing == .replace)
        } catch {
            unlink(temporaryPath)
            throw error
        }
    }

    /// Deletes the temporary file; the destination stays as it was.
    public func abandon() {
        stopWriteback()
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        modelport_release_temporary(cleanupSlot)
        committed = true
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        try pending.withUnsafeBytes { try writeAll($0) }
        pending.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw BinaryIOError.system(temporaryPath, "cannot write")
            }
            done += n
        }
        inFile += bytes.count
        startWriteback()
    }

    /// Once another `writebackStep` bytes are in the file, asks the kernel to start writing them to disk now (Linux
    /// `sync_file_range`), so the disk works while the next tensors are read and converted, and the fsync of
    /// `commit()` finds little left; dirty pages do not pile up in memory either. Only a hint: errors are ignored.
    /// The request is made on a thread of its own (`modelport_writeback_create`): sync_file_range waits until the
    /// block layer has queued every page, which on a busy disk would stall this writer for as long as a copy takes.
    private func startWriteback() {
        guard inFile - writebackStarted >= Self.writebackStep else { return }
        if writeback == nil, !writebackThreadFailed {
            writeback = modelport_writeback_create(fd)
            writebackThreadFailed = writeback == nil
        }
        if let writeback {
            modelport_writeback_request(writeback, Int64(inFile))
        } else {
            _ = modelport_start_writeback(fd, Int64(writebackStarted), Int64(inFile - writebackStarted))
        }
        writebackStarted = inFile
    }

    /// Waits for the writeback thread's request in flight, so the descriptor can be synced and closed.
    private func stopWriteback() {
        guard let writeback else { return }
        modelport_writeback_finish(writeback)
        self.writeback = nil
    }
}

@inline(__always)
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// A folder built under a temporary name beside its destination and renamed into place by `commit()`.
///
/// Files inside are written directly (the whole folder is the unit that appears atomically). An existing
/// destination folder, with `.replace`, is moved aside and removed only after the new one is in place.
public final class AtomicDirectory {
    /// Where the folder lands on `commit()`.
    public let destination: String
    /// The folder being filled until then.
    public let temporaryPath: String
    private let existing: ExistingOutputPolicy
    private var committed = false

    public init(destination: String, existing: ExistingOutputPolicy = .refuse) throws {
        self.destination = destination
        self.existing = existing
        temporaryPath = try temporaryPathBeside(destination, existing: existing, folder: true)
        guard mkdir(temporaryPath, 0o755) == 0 else { throw BinaryIOError.system(temporaryPath, "cannot create folder") }
    }

    deinit {
        if !committed { abandon() }
    }

    /// The path of `name` inside the temporary folder.
    public func path(for name: String) -> String { temporaryPath + "/" + name }

    /// Renames the folder into place, replacing an existing one when allowed.
    public func commit() throws {
        precondition(!committed, "committed twice")
        try moveIntoPlace(temporaryPath, destination, existing: existing)
        committed = true
    }

    /// Removes the temporary folder and everything in it.
    public func abandon() {
        removeTree(temporaryPath)
        committed = true
    }
}

/// Renames a finished file or folder onto `destination`; an existing destination (allowed by `.replace`) is
/// moved aside first and removed only once the new one is in place.
public func moveIntoPlace(_ finished: String, _ destination: String, existing: ExistingOutputPolicy) throws {
    var aside: String?
    if fileExists(destination) {
        guard existing == .replace else {
            throw BinaryIOError(path: destination, reason: "already exists", isOutputConflict: true)
        }
        let moved = finished + ".old"
        guard rename(destination, moved) == 0 else {
            throw BinaryIOError.system(destination, "cannot move the existing output aside")
        }
        aside = moved
    }
    do {
        try renameIntoPlace(finished, destination, replacing: false)
    } catch {
        if let aside { rename(aside, destination) }
        throw error
    }
    if let aside { removeTree(aside) }
}

/// Renames `finished` onto `destination`. Unless `replacing`, a destination that appeared since the checks
/// (another run writing the same output) is never replaced: the kernel's no-replace rename refuses it, or,
/// where the file system lacks that, `link` (which fails on an existing name) then `unlink` for files.
func renameIntoPlace(_ finished: String, _ destination: String, replacing: Bool) throws {
    if replacing {
        guard rename(finished, destination) == 0 else {
            throw BinaryIOError.system(destination, "cannot rename the finished output into place")
        }
        return
    }
    if modelport_rename_noreplace(finished, destination) == 0 { return }
    switch errno {
    case EEXIST:
        throw BinaryIOError(path: destination, reason: "appeared while the output was being written; left as it is", isOutputConflict: true)
    case EINVAL, ENOSYS, EOPNOTSUPP:
        if isDirectory(finished) {
            guard !fileExists(destination), rename(finished, destination) == 0 else {
                throw BinaryIOError(path: destination, reason: "already exists or cannot be renamed into place", isOutputConflict: true)
            }
            return
        }
        guard link(finished, destination) == 0 else {
            if errno == EEXIST {
                throw BinaryIOError(path: destination, reason: "appeared while the output was being written; left as it is", isOutputConflict: true)
            }
            throw BinaryIOError.system(destination, "cannot link the finished output into place")
        }
        unlink(finished)
    default:
        throw BinaryIOError.system(destination, "cannot rename the finished output into place")
    }
}

/// Fatal signals remove registered temporaries (installed once, on the first output).
private let cleanupHandlersInstalled: Bool = {
    modelport_install_cleanup_handlers()
    return true
}()

private func registerForCleanup(_ path: String) -> Int32 {
    _ = cleanupHandlersInstalled
    return Int32(modelport_register_temporary(path))
}

/// A fresh hidden name beside `destination` for an output that is checked before it is moved into place.
public func stagingPath(beside destination: String) -> String {
    let (folder, name) = splitPath(destination)
    return folder + "/." + name + ".modelport-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).staged"
}

/// A hidden, unique name in `destination`'s folder (created if missing) for output still being written.
/// With `.refuse`, an existing destination is an error.
private func temporaryPathBeside(_ destination: String, existing: ExistingOutputPolicy, folder isFolder: Bool) throws -> String {
    if existing == .refuse, fileExists(destination) {
        throw BinaryIOError(path: destination, reason: "already exists", isOutputConflict: true)
    }
    if existing == .replace, fileExists(destination) { try checkReplaceable(destination, byFolder: isFolder) }
    let (folder, name) = splitPath(destination)
    try makeFolders(folder)
    removeStaleTemporaries(of: name, in: folder)
    return folder + "/." + name + ".modelport-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
}

/// Sub-folders a model folder may hold (sentence-transformers modules, ONNX exports): replacing a folder
/// with other sub-folders would delete things ModelPort never wrote.
func isModelSubfolder(_ name: String) -> Bool {
    name == "onnx" || (name.first?.isNumber == true && name.contains("_"))
}

/// Whether `--force` may replace `destination`: a regular file (or a link) for a file output; for a folder output,
/// a folder of regular files and model sub-folders (or a regular file). Devices, FIFOs, and folders holding other
/// folders (a home directory, a folder with the source model inside) are never replaced.
func checkReplaceable(_ destination: String, byFolder: Bool) throws {
    var info = stat()
    guard lstat(destination, &info) == 0 else { return }
    let kind = info.st_mode & S_IFMT
    if kind == S_IFREG || kind == S_IFLNK { return }
    guard kind == S_IFDIR else {
        throw BinaryIOError(path: destination, reason: "is not a regular file or folder; only outputs ModelPort could have written are replaced")
    }
    guard byFolder else {
        throw BinaryIOError(path: destination, reason: "is a folder; a file output replaces only a file")
    }
    for entry in folderEntries(destination) ?? [] {
        var child = stat()
        guard lstat(destination + "/" + entry, &child) == 0 else { continue }
        let childKind = child.st_mode & S_IFMT
        if childKind == S_IFREG || childKind == S_IFLNK { continue }
        guard childKind == S_IFDIR, isModelSubfolder(entry),
              (folderEntries(destination + "/" + entry) ?? []).allSatisfy({ !isDirectory(destination + "/" + entry + "/" + $0) }) else {
            throw BinaryIOError(path: destination, reason: "holds '\(entry)', which a model folder does not; it is not replaced")
        }
    }
}

/// Removes what earlier runs left beside `name` when they were killed: `.NAME.modelport-PID-N.tmp`
/// (`.staged`, `.tmp.old`) whose process PID no longer exists. A live run's temporaries are left alone.
func removeStaleTemporaries(of name: String, in folder: String) {
    let prefix = "." + name + ".modelport-"
    guard let entries = folderEntries(folder) else { return }
    for entry in entries where entry.hasPrefix(prefix) {
        let rest = entry.dropFirst(prefix.count)
        guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0,
              [".tmp", ".staged", ".old"].contains(where: { entry.hasSuffix($0) }) else { continue }
        if kill(pid, 0) != 0, errno == ESRCH { removeTree(folder + "/" + entry) }
    }
}

/// The names in a folder (without `.` and `..`), sorted; `nil` when it cannot be listed.
public func folderEntries(_ path: String) -> [String]? {
    guard let dir = opendir(path) else { return nil }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Creates `path` and any missing parent folders (like `mkdir -p`).
public func makeFolders(_ path: String) throws {
    if path.isEmpty || isDirectory(path) { return }
    let parent = splitPath(path).folder
    if parent != path { try makeFolders(parent) }
    guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw BinaryIOError.system(path, "cannot create folder") }
}

/// Whether anything (file, folder, link) exists at `path`.
public func fileExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// Whether `path` is a folder.
public func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

/// Splits a path into its folder ("." when none) and last component.
public func splitPath(_ path: String) -> (folder: String, name: String) {
    var trimmed = path
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return (".", trimmed) }
    let folder = String(trimmed[..<slash])
    return (folder.isEmpty ? "/" : folder, String(trimmed[trimmed.index(after: slash)...]))
}

/// Deletes a file or a folder tree, without following symbolic links.
public func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        for name in folderEntries(path) ?? [] { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// The canonical absolute path of an existing `path` (links resolved), or nil.
public func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// Whether `name`, read from a file (a program's variable, an index's shard), can only name a file inside its
/// folder: not empty, not `.` or `..`, no slash or backslash, no NUL.
public func isPlainFileName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\") && !name.contains("\0")
}
