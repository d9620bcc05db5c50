import BinaryIO
import ModelIR
import Pickle

extension PyTorchCheckpoint {
    /// Finds the state dict in what the pickle built (a bare state dict, `{"state_dict": …}`,
    /// `{"model": …}`, nested module dicts) and turns its tensor records into IR tensors.
    static func tensors(from root: PickleValue, storages: inout [Storage], file: String) throws -> Contents {
        var notes: [Note] = []
        guard case .dict(var dict) = root else {
            throw ModelError(file: file, "the checkpoint holds \(root), not a dict of tensors")
        }
        if !dict.items.contains(where: { isTensor($0.value) }) {
            for key in ["state_dict", "model_state_dict", "model", "module", "net"] {
                if case .dict(let inner)? = dict[key] {
                    let others = dict.items.compactMap(\.key.stringValue).filter { $0 != key }
                    notes.append(Note(.info, "read the checkpoint's '\(key)' entry" + (others.isEmpty ? "" : "; skipped " + others.joined(separator: ", "))))
                    dict = inner
                    break
                }
            }
        }
        var tensors: [Tensor] = []
        var skipped = 0
        var visited = Set<ObjectIdentifier>()
        try flatten(dict, prefix: "", depth: 0, into: &tensors, skipped: &skipped, visited: &visited, storages: &storages, file: file)
        if skipped > 0 { notes.append("skipped \(skipped) non-tensor entries") }
        // DataParallel / DistributedDataParallel wrap every name in "module.".
        if !tensors.isEmpty, tensors.allSatisfy({ $0.name.hasPrefix("module.") }) {
            for i in tensors.indices { tensors[i].name = String(tensors[i].name.dropFirst("module.".count)) }
            notes.append(Note(.naming, "removed the 'module.' prefix (DataParallel)"))
        }
        for storage in storages where storage.users.count > 1 {
            notes.append(Note(.info, "tied: " + storage.users.joined(separator: " = ") + " share one storage"))
        }
        return Contents(tensors: tensors, notes: notes)
    }

    static func isTensor(_ value: PickleValue) -> Bool {
        if case .call(let call) = value { return call.callee.module.hasPrefix("torch") }
        return false
    }

    static func flatten(
        _ dict: PickleDict, prefix: String, depth: Int, into tensors: inout [Tensor], skipped: inout Int,
        visited: inout Set<ObjectIdentifier>, storages: inout [Storage], file: String
    ) throws {
        guard depth < 32 else { throw ModelError(file: file, "state dict nested deeper than 32 levels") }
        // The memo lets one dict appear under many keys; walking it each time would be exponential in the nesting.
        guard visited.insert(ObjectIdentifier(dict)).inserted else {
            throw ModelError(file: file, location: .key(String(prefix.dropLast())), "the same dict of tensors appears twice in the state dict")
        }
        for (key, value) in dict.items {
            guard let name = key.stringValue else { skipped += 1; continue }
            switch value {
            case .dict(let inner):
                try flatten(inner, prefix: prefix + name + ".", depth: depth + 1, into: &tensors, skipped: &skipped,
                            visited: &visited, storages: &storages, file: file)
            case .call(let call) where call.callee.module.hasPrefix("torch"):
                tensors.append(try tensor(named: prefix + name, call, storages: &storages, file: file))
            default:
                skipped += 1
            }
        }
    }

    /// One tensor record (`_rebuild_tensor_v2(storage, offset, size, stride, …)` and its wrappers).
    static func tensor(named name: String, _ call: PickleCall, storages: inout [Storage], file: String, depth: Int = 0) throws -> Tensor {
        func fail(_ reason: String) -> ModelError {
            ModelError(file: file, location: .tensor(name), reason + " (data.pkl offset \(call.offset))")
        }
        guard depth < 8 else { throw fail("tensor wrapped too deeply") }
        let args = call.arguments
        switch call.callee.name {
        case "_rebuild_parameter", "_rebuild_parameter_with_state", "Parameter":
            guard case .call(let inner)? = args.first else { throw fail("parameter without a tensor") }
            return try tensor(named: name, inner, storages: &storages, file: file, depth: depth + 1)
        case "_rebuild_from_type_v2":
            guard args.count >= 3, case .global(let function) = args[0], let inner = args[2].sequence else {
                throw fail("malformed _rebuild_from_type_v2")
            }
            let rebuilt = PickleCall.record(callee: function, arguments: inner, offset: call.offset)
            return try tensor(named: name, rebuilt, storages: &storages, file: file, depth: depth + 1)
        case "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3":
            break
        default:
            throw fail("\(call.callee.qualifiedName) records are not supported")
        }
        guard args.count >= 4, case .persistent(let index)? = args.first, index < storages.count else {
            throw fail("tensor record without a storage")
        }
        guard let offset = args[1].intValue, offset >= 0,
              let sizes = args[2].sequence?.compactMap(\.intValue), sizes.count == args[2].sequence?.count,
              let strides = args[3].sequence?.compactMap(\.intValue), strides.count == sizes.count,
              sizes.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            throw fail("offset, size or stride is malformed or negative")
        }
        let storage = storages[index]
        var dtype = storage.dtype
        var storageElements = storage.count
        if call.callee.name == "_rebuild_tensor_v3" {
            guard args.count >= 7, case .global(let type) = args[6], let typed = torchDTypes[type.name] else {
                throw fail("_rebuild_tensor_v3 without a supported dtype")
            }
            guard storage.dtype == .u8, storage.count % typed.blockBytes == 0 else { throw fail("untyped storage size does not fit \(typed.rawValue)") }
            dtype = typed
            storageElements = storage.count / typed.blockBytes
        }
        let shape = Shape(sizes)
        guard let count = shape.elementCount else { throw fail("shape \(shape) overflows") }
        // The view's last element, with every step checked: offsets and strides come from the file.
        var last = offset
        for (size, stride) in zip(sizes, strides) where size > 0 {
            let (step, overflow) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflow2) = last.addingReportingOverflow(step)
            guard !overflow, !overflow2 else { throw fail("offset and strides overflow") }
            last = sum
        }
        guard count == 0 ? offset <= storageElements : last < storageElements else {
            throw fail("view reaches element \(last) of a storage of \(storageElements)")
        }
        // Tied weights view a storage twice, split ones once in all, an expanded buffer a few times; views that
        // add up to much more (stride 0 over a huge shape, thousands of ties) would turn a few bytes of file into
        // any amount of output.
        let viewed = storages[index].viewedElements + count
        let times = ReaderLimits.current.viewsPerStorage
        let (allowed, overflow) = storageElements.multipliedReportingOverflow(by: times)
        guard overflow || viewed <= allowed + 1024 else {
            throw fail("views of one storage add up to more than \(times) times its \(storageElements) elements (stride 0, overlapping or repeated views)").with(kind: .limitExceeded)
        }
        storages[index].viewedElements = viewed
        storages[index].users.append(name)
        guard let source = storages[index].data else { throw fail("storage has no data") }
        let width = dtype.blockBytes
        let contiguous = zip(sizes, zip(strides, rowMajorStrides(sizes))).allSatisfy { $0 == 1 || $1.0 == $1.1 }
        let data: TensorData
        if contiguous {
            data = (offset == 0 && count == storageElements) ? source : source.slice((offset * width)..<((offset + count) * width))
        } else {
            data = .producer {
                try source.withBytes { bytes in gather(bytes, offset: offset, sizes: sizes, strides: strides, width: width) }
            }
        }
        return Tensor(name: name, dtype: dtype, shape: shape, data: data)
    }
}

func rowMajorStrides(_ sizes: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: sizes.count)
    var running = 1
    for d in stride(from: sizes.count - 1, through: 0, by: -1) {
        strides[d] = running
        running *= max(sizes[d], 1)
    }
    return strides
}

/// Copies a strided view into a new row-major buffer.
func gather(_ source: UnsafeRawBufferPointer, offset: Int, sizes: [Int], strides: [Int], width: Int) -> TensorBuffer {
    let count = sizes.reduce(1, *)
    let output = TensorBuffer(count: count * width)
    guard count > 0 else { return output }
    output.withMutableBytes { destination in
        var index = [Int](repeating: 0, count: sizes.count)
        for i in 0..<count {
            var element = offset
            for d in 0..<sizes.count { element += index[d] * strides[d] }
            for b in 0..<width { destination[i * width + b] = source[element * width + b] }
            var d = sizes.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < sizes[d] { break }
                index[d] = 0
                d -= 1
            }
        }
    }
    return output
}
