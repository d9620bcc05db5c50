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

    init(path: String, limits: ReaderLimits) throws {
        self.path = path
        self.limits = limits
        let id = hdf5Lock.withLock { _ -> hid_t in
            guard modelport_h5_init() == 0 else { return -1 }
            return modelport_h5_open(path)
        }
        guard id >= 0 else { throw ModelError(file: path, "the HDF5 library cannot open it (not HDF5, truncated, or damaged)") }
        self.id = id
    }

    deinit {
        let id = self.id
        hdf5Lock.withLock { _ in _ = H5Fclose(id) }
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
        let object = H5Oopen(id, objectPath, 0)
        guard object >= 0 else { throw error(objectPath, "cannot be opened") }
        defer { H5Oclose(object) }
        return try body(object)
    }

    /// The strings of attribute `name` of `objectPath` (fixed- or variable-length), nil when there is none. Keras
    /// splits long lists over `name0`, `name1`, … (tf-keras `save_attributes_to_hdf5_group`); those are joined.
    func strings(attribute name: String, of objectPath: String) throws -> [String]? {
        try hdf5Lock.withLock { _ in
            try withObject(objectPath) { object -> [String]? in
                if H5Aexists(object, name) > 0 { return try readStrings(object, name, objectPath) }
                var all: [String] = []
                var part = 0
                while H5Aexists(object, name + String(part)) > 0 {
                    all += try readStrings(object, name + String(part), objectPath)
                    guard all.count <= limits.maxTensors else { throw error(objectPath, "attribute \(name) lists more than \(limits.maxTensors) names") }
                    part += 1
                }
                return part == 0 ? nil : all
            }
        }
    }

    private func readStrings(_ object: hid_t, _ name: String, _ objectPath: String) throws -> [String] {
        let attribute = H5Aopen(object, name, 0)
        guard attribute >= 0 else { throw error(objectPath, "attribute \(name) cannot be opened") }
        defer { H5Aclose(attribute) }
        let type = H5Aget_type(attribute)
        guard type >= 0 else { throw error(objectPath, "attribute \(name) has no readable type") }
        defer { H5Tclose(type) }
        let space = H5Aget_space(attribute)
        guard space >= 0 else { throw error(objectPath, "attribute \(name) has no readable shape") }
        let points = H5Sget_simple_extent_npoints(space)
        H5Sclose(space)
        guard points >= 0, let count = Int(exactly: points), count <= limits.maxTensors else {
            throw error(objectPath, "attribute \(name) holds \(points) strings (limit \(limits.maxTensors))")
        }
        // A layer without weights (Dropout) has an empty list, which h5py stores as an empty float array.
        if count == 0 { return [] }
        guard H5Tget_class(type) == H5T_STRING else { throw error(objectPath, "attribute \(name) must hold strings") }
        // transformers' tf_model.h5 stores layer_names as variable-length strings, which live in the file's global
        // heap; HDF5 1.10.8 reads a damaged heap collection without bounds checks (fuzz-keras findings in
        // Samples/broken/fuzz/keras/libhdf5/): a known limit of reading through the library.
        if H5Tis_variable_str(type) > 0 {
            let memtype = modelport_h5_vlen_string_type()
            guard memtype >= 0 else { throw error(objectPath, "attribute \(name): no string type") }
            defer { H5Tclose(memtype) }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard modelport_h5_read_attribute(attribute, memtype, &pointers) == 0 else {
                throw error(objectPath, "attribute \(name) cannot be read")
            }
            defer { modelport_h5_reclaim_strings(attribute, memtype, &pointers) }
            var total = 0
            return try pointers.map { pointer in
                guard let pointer else { return "" }
                let text = String(cString: pointer)
                total += text.utf8.count
                guard total <= limits.maxHeaderBytes else { throw error(objectPath, "attribute \(name) exceeds \(limits.maxHeaderBytes) bytes") }
                return text
            }
        }
        let size = H5Tget_size(type)
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        guard size > 0, !overflow, total <= limits.maxHeaderBytes else {
            throw error(objectPath, "attribute \(name): \(count) strings of \(size) bytes exceed \(limits.maxHeaderBytes) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: total)
        guard modelport_h5_read_attribute(attribute, type, &bytes) == 0 else { throw error(objectPath, "attribute \(name) cannot be read") }
        return (0..<count).map { i in
            let field = bytes[(i * size)..<((i + 1) * size)]
            let end = field.firstIndex(of: 0) ?? field.endIndex
            return String(decoding: field[field.startIndex..<end], as: UTF8.self)
        }
    }

    /// The names of the links in group `objectPath`, in name order (at most `limits.maxTensors`).
    func links(of objectPath: String) throws -> [String] {
        try hdf5Lock.withLock { _ in
            try withObject(objectPath) { group -> [String] in
                let count = modelport_h5_link_count(group)
                guard count >= 0, let n = Int(exactly: count), n <= limits.maxTensors else {
                    throw error(objectPath, "is not a group, or holds more than \(limits.maxTensors) links")
                }
                return try (0..<n).map { i in
                    let length = modelport_h5_link_name(group, UInt64(i), nil, 0)
                    guard length >= 0, let size = Int(exactly: length), size < 65_536 else { throw error(objectPath, "link \(i) has no readable name") }
                    var buffer = [CChar](repeating: 0, count: size + 1)
                    guard modelport_h5_link_name(group, UInt64(i), &buffer, size + 1) == length else { throw error(objectPath, "link \(i) has no readable name") }
                    return String(decoding: buffer.prefix(size).map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
            let dataset = H5Dopen2(id, objectPath, 0)
            guard dataset >= 0 else { throw error(objectPath, "is not a dataset that can be opened") }
            defer { H5Dclose(dataset) }
            return try describe(dataset, objectPath, fileSize: fileSize)
        }
    }

    private func describe(_ dataset: hid_t, _ objectPath: String, fileSize: Int) throws -> DatasetInfo {
        var external: Int32 = 0
        let layout = modelport_h5_layout(dataset, &external)
        guard external == 0 else { throw error(objectPath, "keeps its data in \(external) external file(s); only data inside this file is read", kind: .unsupported) }
        guard layout != 3 else { throw error(objectPath, "is a virtual dataset (its data lives in other datasets or files); refused", kind: .unsupported) }
        guard layout >= 0 else { throw error(objectPath, "has an unknown storage layout") }
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw error(objectPath, "has no readable element type") }
        defer { H5Tclose(type) }
        let (dtype, bigEndian) = try elementType(type, objectPath)
        let space = H5Dget_space(dataset)
        guard space >= 0 else { throw error(objectPath, "has no readable shape") }
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= 32 else { throw error(objectPath, "has rank \(rank) (at most 32)") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &dims, nil) == rank else { throw error(objectPath, "has no readable shape") }
        let shape = Shape(try dims.map { d -> Int in
            guard let n = Int(exactly: d) else { throw error(objectPath, "dimension \(d) is out of range") }
            return n
        })
        guard let byteCount = TensorInfo(name: objectPath, dtype: dtype, shape: shape).byteCount else {
            throw error(objectPath, "shape \(shape) of \(dtype.rawValue) overflows")
        }
        let storage = H5Dget_storage_size(dataset)
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
        let size = H5Tget_size(type)
        let bigEndian = H5Tget_order(type) == H5T_ORDER_BE
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            var (spos, epos, esize, mpos, msize) = (0, 0, 0, 0, 0)
            guard H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0 else { throw error(objectPath, "has an unreadable float type") }
            switch (size, spos, epos, esize, mpos, msize) {
            case (2, 15, 10, 5, 0, 10): return (.f16, bigEndian)
            case (2, 15, 7, 8, 0, 7): return (.bf16, bigEndian)
            case (4, 31, 23, 8, 0, 23): return (.f32, bigEndian)
            case (8, 63, 52, 11, 0, 52): return (.f64, bigEndian)
            default: throw error(objectPath, "has a \(size)-byte float layout ModelPort does not read")
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
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
            throw error(objectPath, "holds neither numbers nor floats (class \(H5Tget_class(type).rawValue))")
        }
    }

    /// Reads a dataset's bytes through the library, little-endian, after the same checks as `dataset`.
    func read(_ objectPath: String, expected: DatasetInfo, fileSize: Int) throws -> TensorBuffer {
        try hdf5Lock.withLock { _ in
            try checkHardLinks(objectPath)
            let dataset = H5Dopen2(id, objectPath, 0)
            guard dataset >= 0 else { throw error(objectPath, "is not a dataset that can be opened") }
            defer { H5Dclose(dataset) }
            let info = try describe(dataset, objectPath, fileSize: fileSize)
            guard info.dtype == expected.dtype, info.shape == expected.shape else { throw error(objectPath, "changed since it was listed") }
            let fileType = H5Dget_type(dataset)
            guard fileType >= 0 else { throw error(objectPath, "has no readable element type") }
            defer { H5Tclose(fileType) }
            let memtype = H5Tcopy(fileType)
            guard memtype >= 0, H5Tset_order(memtype, H5T_ORDER_LE) >= 0 else { throw error(objectPath, "no little-endian memory type") }
            defer { H5Tclose(memtype) }
            let buffer = TensorBuffer(count: info.byteCount)
            guard info.byteCount > 0 else { return buffer }
            let status = buffer.withMutableBytes { modelport_h5_read(dataset, memtype, $0.baseAddress) }
            guard status == 0 else { throw error(objectPath, "the HDF5 library could not read its data (damaged or truncated)") }
            return buffer
        }
    }
}

/// Long names from a file, cut for one-line errors.
enum ModelErrorName {
    static func short(_ name: String) -> String {
        name.utf8.count <= 200 ? name : String(name.prefix(120)) + "…(\(name.utf8.count) bytes)"
    }
}
