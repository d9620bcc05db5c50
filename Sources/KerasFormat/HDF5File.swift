import BinaryIO
import CHDF5
import ModelIR
import Synchronization

/// The serial HDF5 library is not thread-safe: every call into it holds this lock.
let hdf5Lock = Mutex<Void>(())

/// The HDF5 signature (HDF5 File Format Specification, "Format Signature"): at offset 0, 512, 1024, 2048, … (a
/// user block may precede the superblock, its size a power of two ≥ 512).
let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

/// An HDF5 file opened read-only through the C library, with ModelPort's rules on top: only hard links are followed
/// (a soft or external link, which could lead to another file or loop, is refused), datasets whose data lives in
/// external files or other datasets (external storage, virtual layout) are refused, and every library failure
/// becomes a `ModelError` naming the file and object (the library's own error printing is off).
final class HDF5File: @unchecked Sendable {
    let path: String
    let id: hid_t
    let limits: ReaderLimits

    /// Opens `path` (`fileSize` bytes, which sets the isolated pre-run's time limit) after that pre-run
    /// (`isolatedCheck`) has made the same library calls in a child process without crashing.
    init(path: String, fileSize: Int, limits: ReaderLimits) throws {
        self.path = path
        self.limits = limits
        let id = try hdf5Lock.withLock { _ -> hid_t in
            try Self.isolatedCheck(path: path, fileSize: fileSize, limits: limits)
            guard modelport_h5_init() == 0 else { return -1 }
            return modelport_h5_open(path)
        }
        guard id >= 0 else { throw ModelError(file: path, "the HDF5 library cannot open it (not HDF5, truncated, or damaged)") }
        self.id = id
    }

    /// libhdf5 1.10.8 crashes on some damaged files (a SEGV in H5Literate on a damaged symbol-table group:
    /// Samples/broken/fuzz/keras/libhdf5/README.md), and a crash cannot be caught in-process. So before this process
    /// calls the library on a file, `modelport_h5_probe` (Sources/CHDF5/hdf5.c) fork()s a child that runs, in C only, the
    /// library calls the reader makes, in the reader's order (open, `layer_names` lookups, the hard-link walk, every
    /// dataset's description, and H5Dread of every dataset not lent by the mapping). A signal or hang there becomes
    /// one `.malformed` error; a library *error* there is left for this process to report in its own words.
    /// The limit: 10 s plus 1 s per 50 MB of file (decompressing chunked datasets is what takes time).
    /// Call with `hdf5Lock` held, so that no thread of this process is inside the library when it forks.
    /// `timeoutMs` replaces that limit (tests).
    static func isolatedCheck(path: String, fileSize: Int, limits: ReaderLimits, timeoutMs: Int? = nil) throws {
        try loadLibrary(for: path)
        let timeoutMs = timeoutMs ?? 10_000 + Swift.min(fileSize / 50_000, 600_000)
        var detail: Int32 = 0
        let result = modelport_h5_probe(path, Swift.max(limits.maxTensors, 0), Int32(clamping: limits.maxNestingDepth),
                                        Int32(clamping: limits.maxRank), Int32(timeoutMs), &detail)
        switch result {
        case 0: return
        case 1: throw ModelError(kind: .malformed, file: path, "the HDF5 library failed on this file (signal \(detail) while reading its metadata)")
        case 2: throw ModelError(kind: .malformed, file: path, "the HDF5 library failed on this file (no answer after \(timeoutMs) ms reading its metadata)")
        case 3: throw ModelError(kind: .malformed, file: path, "the HDF5 library failed on this file (exit status \(detail) while reading its metadata)")
        default: throw ModelError(kind: .io, file: path, "cannot start the isolated HDF5 check (fork: errno \(detail))")
        }
    }

    /// Loads libhdf5, which is not linked (Sources/CHDF5/hdf5.c: it brings some thirty libraries that every other
    /// run would map for nothing), or throws the one-line reason it cannot be loaded, naming the package to install.
    static func loadLibrary(for path: String) throws {
        guard modelport_h5_load() == 0 else {
            throw ModelError(kind: .unsupported, file: path, String(cString: modelport_h5_load_error()))
        }
    }

    deinit {
        let id = self.id
        hdf5Lock.withLock { _ in _ = modelport_H5Fclose(id) }
    }

    func error(_ object: String, _ reason: String, kind: ModelError.Kind = .malformed) -> ModelError {
        ModelError(kind: kind, file: path, location: .entry(object.isEmpty ? "/" : "'/\(ModelErrorName.short(object))'"), reason)
    }

    /// Checks that every component of `objectPath` (relative to the root) is a hard link. Call with the lock held.
    func checkHardLinks(_ objectPath: String) throws {
        var prefix = ""
        for component in objectPath.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += (prefix.isEmpty ? "" : "/") + component
            switch modelport_h5_is_hard_link(id, prefix) {
            case 1: continue
            case 0: throw error(prefix, "is a soft, external or user-defined link; only objects inside this file are read", kind: .unsupported)
            default: throw error(prefix, "does not exist")
            }
        }
    }

    /// Opens a group or the file's root; `body` gets its id. Lock held.
    func withObject<R>(_ objectPath: String, _ body: (hid_t) throws -> R) throws -> R {
        if objectPath.isEmpty { return try body(id) }
        try checkHardLinks(objectPath)
        let object = modelport_H5Oopen(id, objectPath, 0)
        guard object >= 0 else { throw error(objectPath, "cannot be opened") }
        defer { modelport_H5Oclose(object) }
        return try body(object)
    }

    /// Whether `objectPath` has an attribute `name`, or the first part `name0` of one that Keras split over
    /// `name0`, `name1`, … (tf-keras `save_attributes_to_hdf5_group`). Only the attribute's name is looked at: its
    /// value is never read. transformers writes `layer_names` and `weight_names` as variable-length strings, which
    /// live in the file's global heap, and HDF5 1.10.8 reads a damaged global heap collection without bounds checks
    /// (H5HG_read; the fuzz findings in Samples/broken/fuzz/keras/libhdf5/): the weights' names are taken from the
    /// datasets' own paths instead (`datasets(under:)`).
    func hasAttribute(_ name: String, of objectPath: String) throws -> Bool {
        try hdf5Lock.withLock { _ in
            try withObject(objectPath) { object in
                modelport_H5Aexists(object, name) > 0 || modelport_H5Aexists(object, name + "0") > 0
            }
        }
    }

    /// One link of a group, as the library lists it.
    struct Link {
        var name: String
        /// 0 hard, 1 soft, 2 external, 3 user-defined.
        var type: Int32
        /// The object's address, for a hard link.
        var identity: UInt64
    }

    /// The links of the open group `group` (at `objectPath`), at most `max`, in name order. Lock held.
    private func listLinks(_ group: hid_t, _ objectPath: String, max: Int) throws -> [Link] {
        var list = modelport_h5_links()
        defer { modelport_h5_free_links(&list) }
        switch modelport_h5_list_links(group, max, &list) {
        case 0: break
        case 1: throw error(objectPath, "holds more than \(limits.maxTensors) links in all", kind: .limitExceeded)
        default: throw error(objectPath, "is not a group whose links can be listed (damaged, or a name over 64 KiB)")
        }
        guard let items = list.items else { return [] }
        return (0..<list.count).map { i in
            let item = items[i]
            let name = item.name.map { String(cString: $0) } ?? ""
            return Link(name: name, type: item.type, identity: item.identity)
        }
    }

    /// The names of the links in group `objectPath`, in name order (at most `limits.maxTensors`).
    func links(of objectPath: String) throws -> [String] {
        try hdf5Lock.withLock { _ in
            try withObject(objectPath) { group in try listLinks(group, objectPath, max: limits.maxTensors).map(\.name) }
        }
    }

    /// The datasets under group `objectPath`, as paths relative to it, found by walking the groups' links depth
    /// first. Only hard links are followed: a soft, external or user-defined link is refused, as is a group reached
    /// a second time (a hard-link cycle, or a group shared by two parents, whose walk could repeat without end or
    /// grow exponentially). At most `limits.maxTensors` links are looked at in all, and groups nest at most
    /// `limits.maxNestingDepth` deep.
    ///
    /// The order is the order of writing where the file shows it: by the address of the top-level group holding
    /// the dataset, then by the dataset's own object header address (a writer filling a new file, as h5py does,
    /// allocates each object after the previous one), then by path in `naturalOrder` (`layer_._2` before
    /// `layer_._10`). Addresses are the file's own, so the order is deterministic whatever wrote it.
    func datasets(under objectPath: String) throws -> [String] {
        try hdf5Lock.withLock { _ in
            try withObject(objectPath) { group -> [String] in
                var walk = Walk(file: self)
                try walk.visit(group, path: objectPath, relative: "", depth: 0, top: 0)
                return walk.datasets.sorted { a, b in
                    if a.top != b.top { return a.top < b.top }
                    if a.identity != b.identity { return a.identity < b.identity }
                    return naturalOrder(a.path, b.path)
                }.map(\.path)
            }
        }
    }

    private struct Walk {
        let file: HDF5File
        /// Each dataset's path, its object header address, and that of the top-level group holding it.
        var datasets: [(path: String, identity: UInt64, top: UInt64)] = []
        var groups = Set<UInt64>()
        var links = 0

        mutating func visit(_ group: hid_t, path: String, relative: String, depth: Int, top: UInt64) throws {
            guard depth < file.limits.maxNestingDepth else {
                throw file.error(path, "nests groups more than \(file.limits.maxNestingDepth) deep", kind: .limitExceeded)
            }
            var children = try file.listLinks(group, path, max: file.limits.maxTensors - links)
            links += children.count
            children.sort { naturalOrder($0.name, $1.name) }
            for link in children {
                let childPath = path.isEmpty ? link.name : path + "/" + link.name
                guard !link.name.isEmpty, link.name != ".", !link.name.contains("/") else {
                    throw file.error(childPath, "is a link name that is not one path component")
                }
                guard link.type == 0 else {
                    throw file.error(childPath, "is a soft, external or user-defined link; only objects inside this file are read", kind: .unsupported)
                }
                let childRelative = relative.isEmpty ? link.name : relative + "/" + link.name
                switch modelport_h5_object_kind(group, link.name) {
                case 1:
                    guard groups.insert(link.identity).inserted else {
                        throw file.error(childPath, "is a group reached a second time (a hard-link cycle, or a group with two parents); refused")
                    }
                    let child = modelport_H5Gopen2(group, link.name, 0)
                    guard child >= 0 else { throw file.error(childPath, "is a group that cannot be opened") }
                    defer { modelport_H5Gclose(child) }
                    try visit(child, path: childPath, relative: childRelative, depth: depth + 1, top: depth == 0 ? link.identity : top)
                case 2:
                    datasets.append((childRelative, link.identity, depth == 0 ? link.identity : top))
                case 0:
                    continue  // a named datatype: no weights
                default:
                    throw file.error(childPath, "cannot be opened")
                }
            }
        }
    }

    /// Whether `objectPath` is a group (1), a dataset (2), or neither.
    func kind(_ objectPath: String) throws -> Int32 {
        try hdf5Lock.withLock { _ in
            try checkHardLinks(objectPath)
            return modelport_h5_object_kind(id, objectPath)
        }
    }

    /// What a dataset holds and where: its element type, shape, and, for contiguous data in this file, the byte
    /// range that a mapping can lend without the library.
    struct DatasetInfo {
        var dtype: DType
        var shape: Shape
        var byteCount: Int
        var mappedRange: Range<Int>?
        var bigEndian: Bool
    }

    func dataset(_ objectPath: String, fileSize: Int) throws -> DatasetInfo {
        try hdf5Lock.withLock { _ in
            try checkHardLinks(objectPath)
            let dataset = modelport_H5Dopen2(id, objectPath, 0)
            guard dataset >= 0 else { throw error(objectPath, "is not a dataset that can be opened") }
            defer { modelport_H5Dclose(dataset) }
            return try describe(dataset, objectPath, fileSize: fileSize)
        }
    }

    private func describe(_ dataset: hid_t, _ objectPath: String, fileSize: Int) throws -> DatasetInfo {
        var external: Int32 = 0
        let layout = modelport_h5_layout(dataset, &external)
        guard external == 0 else { throw error(objectPath, "keeps its data in \(external) external file(s); only data inside this file is read", kind: .unsupported) }
        guard layout != 3 else { throw error(objectPath, "is a virtual dataset (its data lives in other datasets or files); refused", kind: .unsupported) }
        guard layout >= 0 else { throw error(objectPath, "has an unknown storage layout") }
        // Only the filters h5py's `compression="gzip"`, `shuffle=True` and `fletcher32=True` write (HDF5 filter ids
        // 1, 2, 3: H5Zpublic.h); any other would be the library's less-exercised decoders (szip, n-bit,
        // scale-offset) on hostile bytes. Plugins are off (modelport_h5_init).
        var filters = [Int32](repeating: -1, count: 8)
        let filterCount = modelport_h5_filters(dataset, &filters, Int32(filters.count))
        guard filterCount >= 0 else { throw error(objectPath, "has an unreadable filter pipeline") }
        let listed = filters.prefix(Int(Swift.min(filterCount, Int32(filters.count))))
        guard filterCount <= filters.count, listed.allSatisfy({ (1...3).contains($0) }) else {
            let ids = listed.filter { !(1...3).contains($0) }.map(String.init).joined(separator: ", ")
            throw error(objectPath, "uses HDF5 filter \(ids.isEmpty ? "pipeline of \(filterCount)" : ids); ModelPort reads deflate, shuffle and fletcher32 only", kind: .unsupported)
        }
        let type = modelport_H5Dget_type(dataset)
        guard type >= 0 else { throw error(objectPath, "has no readable element type") }
        defer { modelport_H5Tclose(type) }
        let (dtype, bigEndian) = try elementType(type, objectPath)
        let space = modelport_H5Dget_space(dataset)
        guard space >= 0 else { throw error(objectPath, "has no readable shape") }
        defer { modelport_H5Sclose(space) }
        guard modelport_H5Sget_simple_extent_type(space) == H5S_SIMPLE || modelport_H5Sget_simple_extent_type(space) == H5S_SCALAR else {
            throw error(objectPath, "has a null or unknown dataspace")
        }
        let rank = modelport_H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= limits.maxRank else { throw error(objectPath, "has rank \(rank) (at most \(limits.maxRank))", kind: .limitExceeded) }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        guard modelport_H5Sget_simple_extent_dims(space, &dims, nil) == rank else { throw error(objectPath, "has no readable shape") }
        let shape = Shape(try dims.map { d -> Int in
            guard let n = Int(exactly: d) else { throw error(objectPath, "dimension \(d) is out of range") }
            return n
        })
        guard let byteCount = TensorInfo(name: objectPath, dtype: dtype, shape: shape).byteCount else {
            throw error(objectPath, "shape \(shape) of \(dtype.rawValue) overflows (or, empty, spans more than \(limits.maxEmptyTensorExtent) elements)")
        }
        // A chunk is what the library allocates and inflates at once: one far larger than the dataset is a file
        // asking for memory it does not describe.
        let chunkElements = modelport_h5_chunk_elements(dataset)
        guard chunkElements >= 0 else { throw error(objectPath, "has an unreadable or overflowing chunk shape") }
        guard chunkElements <= Int64(Swift.max(shape.elementCount ?? 0, 1 << 20)) else {
            throw error(objectPath, "has chunks of \(chunkElements) elements, more than the dataset's \(shape.elementCount ?? 0)", kind: .limitExceeded)
        }
        let storage = modelport_H5Dget_storage_size(dataset)
        var mapped: Range<Int>? = nil
        if layout == 1, !bigEndian, storage == UInt64(byteCount) {
            let offset = modelport_h5_offset(dataset)
            if offset != UInt64.max {
                guard let start = Int(exactly: offset), start <= fileSize, byteCount <= fileSize - start else {
                    throw error(objectPath, "data at offset \(offset) (\(byteCount) bytes) lies outside the \(fileSize)-byte file")
                }
                mapped = start..<(start + byteCount)
            }
        } else if byteCount > 64 << 20 {
            // Compressed or chunked data: the library inflates it. Refuse an inflation no real codec reaches
            // (deflate stops near 1032:1), so a small file cannot ask for gigabytes.
            let (bound, overflow) = Int(clamping: storage).multipliedReportingOverflow(by: 1032)
            guard !overflow, byteCount <= bound else {
                throw error(objectPath, "declares \(byteCount) bytes from \(storage) stored bytes (more than deflate's 1032:1)", kind: .limitExceeded)
            }
        }
        return DatasetInfo(dtype: dtype, shape: shape, byteCount: byteCount, mappedRange: mapped, bigEndian: bigEndian)
    }

    /// The IR type of an HDF5 numeric type: IEEE floats (by their bit fields: half, bfloat16, single, double) and
    /// integers of 1–8 bytes.
    private func elementType(_ type: hid_t, _ objectPath: String) throws -> (DType, Bool) {
        let size = modelport_H5Tget_size(type)
        let bigEndian = modelport_H5Tget_order(type) == H5T_ORDER_BE
        switch modelport_H5Tget_class(type) {
        case H5T_FLOAT:
            var (spos, epos, esize, mpos, msize) = (0, 0, 0, 0, 0)
            guard modelport_H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0 else { throw error(objectPath, "has an unreadable float type") }
            switch (size, spos, epos, esize, mpos, msize) {
            case (2, 15, 10, 5, 0, 10): return (.f16, bigEndian)
            case (2, 15, 7, 8, 0, 7): return (.bf16, bigEndian)
            case (4, 31, 23, 8, 0, 23): return (.f32, bigEndian)
            case (8, 63, 52, 11, 0, 52): return (.f64, bigEndian)
            default: throw error(objectPath, "has a \(size)-byte float layout ModelPort does not read")
            }
        case H5T_INTEGER:
            let signed = modelport_H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, true): return (.i8, bigEndian)
            case (1, false): return (.u8, bigEndian)
            case (2, true): return (.i16, bigEndian)
            case (2, false): return (.u16, bigEndian)
            case (4, true): return (.i32, bigEndian)
            case (4, false): return (.u32, bigEndian)
            case (8, true): return (.i64, bigEndian)
            case (8, false): return (.u64, bigEndian)
            default: throw error(objectPath, "has a \(size)-byte integer type ModelPort does not read")
            }
        default:
            throw error(objectPath, "holds neither numbers nor floats (class \(modelport_H5Tget_class(type).rawValue))")
        }
    }

    /// Reads a dataset's bytes through the library, little-endian, after the same checks as `dataset`.
    func read(_ objectPath: String, expected: DatasetInfo, fileSize: Int) throws -> TensorBuffer {
        try hdf5Lock.withLock { _ in
            try checkHardLinks(objectPath)
            let dataset = modelport_H5Dopen2(id, objectPath, 0)
            guard dataset >= 0 else { throw error(objectPath, "is not a dataset that can be opened") }
            defer { modelport_H5Dclose(dataset) }
            let info = try describe(dataset, objectPath, fileSize: fileSize)
            guard info.dtype == expected.dtype, info.shape == expected.shape else { throw error(objectPath, "changed since it was listed") }
            let fileType = modelport_H5Dget_type(dataset)
            guard fileType >= 0 else { throw error(objectPath, "has no readable element type") }
            defer { modelport_H5Tclose(fileType) }
            let memtype = modelport_H5Tcopy(fileType)
            guard memtype >= 0, modelport_H5Tset_order(memtype, H5T_ORDER_LE) >= 0 else { throw error(objectPath, "no little-endian memory type") }
            defer { modelport_H5Tclose(memtype) }
            let buffer = TensorBuffer(count: info.byteCount)
            guard info.byteCount > 0 else { return buffer }
            let status = buffer.withMutableBytes { modelport_h5_read(dataset, memtype, $0.baseAddress) }
            guard status == 0 else { throw error(objectPath, "the HDF5 library could not read its data (damaged or truncated)") }
            return buffer
        }
    }
}

/// Orders names as people number things: runs of digits compare by value (`layer_._2` before `layer_._10`), the
/// rest by UTF-8 bytes; equal values with different spellings (`01`, `1`) fall back to bytes, so the order is total.
func naturalOrder(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    var i = 0, j = 0
    while i < x.count, j < y.count {
        if isDigit(x[i]), isDigit(y[j]) {
            var iEnd = i, jEnd = j
            while iEnd < x.count, isDigit(x[iEnd]) { iEnd += 1 }
            while jEnd < y.count, isDigit(y[jEnd]) { jEnd += 1 }
            var p = i, q = j
            while p < iEnd - 1, x[p] == 0x30 { p += 1 }
            while q < jEnd - 1, y[q] == 0x30 { q += 1 }
            if iEnd - p != jEnd - q { return iEnd - p < jEnd - q }
            if let k = (0..<(iEnd - p)).first(where: { x[p + $0] != y[q + $0] }) { return x[p + k] < y[q + k] }
            i = iEnd
            j = jEnd
        } else {
            if x[i] != y[j] { return x[i] < y[j] }
            i += 1
            j += 1
        }
    }
    if i < x.count || j < y.count { return j < y.count && !(i < x.count) }
    return a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// Long names from a file, cut for one-line errors.
enum ModelErrorName {
    static func short(_ name: String) -> String {
        name.utf8.count <= 200 ? name : String(name.prefix(120)) + "…(\(name.utf8.count) bytes)"
    }
}
