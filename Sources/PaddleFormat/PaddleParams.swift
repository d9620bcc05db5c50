import BinaryIO
import ModelIR
import Pickle

/// Reads `.pdparams` / `.pdopt` files written by `paddle.save` (`paddle.save` in Paddle's `python/paddle/framework/io.py`): one pickle
/// (protocols 2–4) of a dict whose values are numpy arrays (`_reconstruct` + BUILD state), interpreted by the
/// allowlist unpickler, never executed. Big arrays split under `UnpackBigParamInfor@@` are reassembled.
public enum PaddleParams {
    /// The globals a Paddle pickle may name (Paddle's own restricted unpickler's numpy subset).
    static let allowedGlobals: Set<String> = [
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
        "_codecs.encode", "collections.OrderedDict", "builtins.set",
    ]

    public struct Contents: Sendable {
        public var tensors: [Tensor]
        public var notes: [Note]
    }

    public static func read(path: String) throws -> Contents {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        var options = Unpickler.Options(allowedGlobals: allowedGlobals)
        options.mapBytesFrom = 4096  // array payloads stay in the mapped file (protocol ≥ 3 writes them raw)
        // The pages the parse touched (the opcodes around every array: a read maps a whole page-cache folio, up to
        // 2 MB) are released behind it as it passes each array, and the rest after it, so they never pile up.
        let behind = PagesBehind(file)
        options.passed = { behind.release(upTo: $0.upperBound) }
        let value = try file.withBytesReleasing(in: 0..<file.count) { bytes in try Unpickler.load(bytes, file: path, options: options).value }
        guard case .dict(let dict) = value else { throw ModelError(file: path, "holds \(value), not a dict of arrays") }
        var arrays: [(name: String, info: TensorInfo, data: TensorData)] = []
        var notes: [Note] = []
        var splitInfo: PickleDict?
        var skipped = 0
        var sawBF16 = false
        for (key, item) in dict.items {
            guard let name = key.stringValue else { skipped += 1; continue }
            if name == "StructuredToParameterName@@" { notes.append(Note(.naming, "ignored the StructuredToParameterName@@ table")); continue }
            if name == "UnpackBigParamInfor@@", case .dict(let info) = item { splitInfo = info; continue }
            guard case .call(let call) = item, call.callee.name == "_reconstruct" else { skipped += 1; continue }
            let (info, data) = try array(named: name, call, in: file)
            if info.dtype == .bf16 { sawBF16 = true }
            arrays.append((name, info, data))
        }
        if let splitInfo {
            arrays = try reassemble(arrays, splitInfo, file: path)
            notes.append("reassembled \(splitInfo.items.count) arrays paddle.save had split (UnpackBigParamInfor@@)")
        }
        if skipped > 0 { notes.append("skipped \(skipped) non-array entries") }
        if sawBF16 { notes.append("uint16 arrays read as bfloat16 (Paddle stores bf16 weights as raw uint16 bits)") }
        let tensors = arrays.map { Tensor(info: $0.info, data: $0.data) }
        return Contents(tensors: tensors, notes: notes)
    }

    /// `_reconstruct(ndarray, (0,), b'b')` with BUILD state `(1, shape, dtype, is_fortran, rawdata)`.
    static func array(named name: String, _ call: PickleCall, in mapped: MappedFile) throws -> (TensorInfo, TensorData) {
        func fail(_ reason: String) -> ModelError { ModelError(file: mapped.path, location: .tensor(name), reason) }
        guard let state = call.state?.sequence, state.count == 5 else { throw fail("array state is not (version, shape, dtype, fortran, data)") }
        guard let dims = state[1].sequence?.compactMap(\.intValue), dims.count == state[1].sequence?.count, dims.allSatisfy({ $0 >= 0 }) else {
            throw fail("array shape is malformed")
        }
        guard case .call(let dtypeCall) = state[2], dtypeCall.callee.name == "dtype",
              let typeString = dtypeCall.arguments.first?.stringValue else { throw fail("array dtype is malformed") }
        let code = typeString.hasPrefix("<") || typeString.hasPrefix("|") ? String(typeString.dropFirst()) : typeString
        guard let dtype = NumpyType.dtype(code: code) else { throw fail("numpy type '\(typeString)' is not supported") }
        if let endian = dtypeCall.state?.sequence?.dropFirst().first?.stringValue, endian == ">" {
            throw fail("big-endian arrays are not supported")
        }
        if case .bool(true) = state[3] { throw fail("Fortran-ordered arrays are not supported") }
        let data: TensorData, count: Int
        switch state[4] {
        case .bytes(let raw): (data, count) = (.owned(TensorBuffer(raw)), raw.count)
        case .byteRange(let range): (data, count) = (.mapped(mapped, range: range), range.count)
        default: throw fail("array data is not a byte string")
        }
        let info = TensorInfo(name: name, dtype: dtype, shape: Shape(dims))
        guard let expected = info.byteCount, count == expected else {
            throw fail("holds \(count) bytes, but \(typeString) \(Shape(dims)) needs \(info.byteCount ?? -1)")
        }
        return (info, data)
    }

    /// Joins `<key>@@.0`, `<key>@@.1`, … back into `key` with its `OriginShape`.
    ///
    /// Each slice must be an array of the file, used by one entry only: a table whose entries name each other
    /// (or one slice twice) would otherwise double the bytes at every step. The joined bytes are produced on
    /// demand, so the cost is one pass over the slices.
    static func reassemble(
        _ arrays: [(name: String, info: TensorInfo, data: TensorData)], _ info: PickleDict, file: String
    ) throws -> [(name: String, info: TensorInfo, data: TensorData)] {
        var index: [String: Int] = [:]
        for (i, array) in arrays.enumerated() { index[array.name] = i }
        var used = [Bool](repeating: false, count: arrays.count)
        var joined: [(name: String, info: TensorInfo, data: TensorData)] = []
        for (key, value) in info.items {
            guard let name = key.stringValue, case .dict(let entry) = value,
                  let shape = entry["OriginShape"]?.sequence?.compactMap(\.intValue), let slices = entry["slices"]?.sequence?.compactMap(\.stringValue) else {
                throw ModelError(file: file, location: .key("UnpackBigParamInfor@@"), "malformed entry")
            }
            var parts: [TensorData] = []
            var total = 0
            var dtype: DType?
            for slice in slices {
                guard let i = index[slice] else {
                    throw ModelError(file: file, location: .tensor(name), "slice '\(slice)' is missing")
                }
                guard !used[i] else {
                    throw ModelError(file: file, location: .tensor(name), "slice '\(slice)' is used twice")
                }
                used[i] = true
                guard dtype == nil || dtype == arrays[i].info.dtype else {
                    throw ModelError(file: file, location: .tensor(name), "slices have different dtypes")
                }
                dtype = arrays[i].info.dtype
                total += arrays[i].info.byteCount ?? 0
                parts.append(arrays[i].data)
            }
            let info = TensorInfo(name: name, dtype: dtype ?? .f32, shape: Shape(shape))
            guard shape.count == entry["OriginShape"]?.sequence?.count, let expected = info.byteCount, expected == total else {
                throw ModelError(file: file, location: .tensor(name), "slices hold \(total) bytes, shape \(Shape(shape)) needs \(info.byteCount ?? -1)")
            }
            let data = TensorData.producer { [parts, total] in
                let buffer = TensorBuffer(count: total)
                try buffer.withMutableBytes { out in
                    var at = 0
                    for part in parts {
                        try part.withBytes { bytes in
                            guard at + bytes.count <= out.count else { throw ModelError(file: file, location: .tensor(name), "slices changed size") }
                            UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + bytes.count)]).copyMemory(from: bytes)
                            at += bytes.count
                        }
                    }
                }
                return buffer
            }
            joined.append((name, info, data))
        }
        return arrays.enumerated().filter { !used[$0.offset] }.map(\.element) + joined
    }
}
