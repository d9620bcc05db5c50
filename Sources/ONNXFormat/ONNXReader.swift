import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelIR
import SwiftProtobuf
import Transforms

/// What `ONNXReader.read` found: the weights under Hugging Face names, the config the file carries (ModelPort's own
/// exports keep `config.json`'s text in `metadata_props`), and notes.
public struct ONNXContents: Sendable {
    public var tensors: [Tensor]
    public var configText: String?
    public var notes: [String]
    /// The op types of the graph's nodes, in order.
    public var nodeTypes: [String]
    public var inputNames: [String]
    public var outputNames: [String]
    /// Whether some weights were stored as int8 (or MatMulNBits' 8-bit blocks) and are read back dequantized.
    public var hasQuantizedWeights = false
}

/// Reads an ONNX ModelProto (`Schemas/onnx.proto`) back into the IR: ModelPort's own graphs and optimum / torch.onnx
/// exports of BERT-family models.
///
/// The file is mapped and walked with protobuf's wire format (`https://protobuf.dev/programming-guides/encoding/`):
/// every length is checked against the bytes that remain; an initializer's `raw_data` stays a region of the mapping;
/// only the small messages (nodes, value infos, one TensorProto's fields without its bytes) are decoded by
/// swift-protobuf, under a nesting limit. Initializers become tensors named as transformers names the parameter:
/// `onnx::MatMul_123` weights take the name of the module their MatMul node belongs to, and a matrix that is MatMul's
/// (or MatMulInteger's) right operand is transposed back to PyTorch's `[out, in]`. External data must be a plain file
/// inside the model's folder.
public enum ONNXReader {
    /// Nesting allowed inside the small messages (protobuf's own default is 100).
    static let depthLimit = 64

    public static func read(path: String) throws -> ONNXContents {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        let limits = ReaderLimits.current
        var modelRest: [UInt8] = []
        var graphRange: Range<Int>?
        try file.withBytes { bytes in
            var reader = ByteReader(bytes, path: path)
            while reader.remaining > 0 {
                let start = reader.offset
                let (field, wire) = try key(&reader)
                if field == 7, wire == 2 {
                    let n = try length(&reader)
                    graphRange = reader.offset..<(reader.offset + n)
                    try reader.seek(to: reader.offset + n)
                } else {
                    try skip(&reader, wire: wire)
                    guard reader.offset - start <= limits.maxHeaderBytes, modelRest.count + (reader.offset - start) <= limits.maxHeaderBytes else {
                        throw ONNXError(.unsupported, file: path, offset: start, "model fields exceed \(limits.maxHeaderBytes) bytes")
                    }
                    modelRest += UnsafeRawBufferPointer(rebasing: bytes[start..<reader.offset])
                }
            }
        }
        guard let graphRange else { throw ONNXError(.malformed, file: path, "no graph (ModelProto field 7): not an ONNX model") }
        var decoding = BinaryDecodingOptions()
        decoding.messageDepthLimit = depthLimit
        let modelProto: Onnx_ModelProto
        do { modelProto = try Onnx_ModelProto(serializedBytes: modelRest, options: decoding) } catch {
            throw ONNXError(.malformed, file: path, "ModelProto: \(error)")
        }
        let configText = modelProto.metadataProps.first { $0.key == "modelport.config" }?.value

        // The graph: initializers located (bytes left in place), everything else decoded as one small GraphProto.
        var graphRest: [UInt8] = []
        var initializers: [(proto: Onnx_TensorProto, raw: Range<Int>?, offset: Int)] = []
        // Each initializer's header read maps a folio: released as the walk passes it.
        let behind = PagesBehind(file)
        defer { behind.release(upTo: file.count) }
        try file.withBytes(in: graphRange) { bytes in
            var reader = ByteReader(bytes, path: path, baseOffset: graphRange.lowerBound)
            while reader.remaining > 0 {
                let start = reader.offset
                behind.release(upTo: graphRange.lowerBound + start)
                let (field, wire) = try key(&reader)
                if field == 5, wire == 2 {
                    let n = try length(&reader)
                    let body = reader.offset..<(reader.offset + n)
                    guard initializers.count < limits.maxTensors else {
                        throw ONNXError(.unsupported, file: path, offset: graphRange.lowerBound + start, "more than \(limits.maxTensors) initializers")
                    }
                    let (proto, raw) = try tensorProto(UnsafeRawBufferPointer(rebasing: bytes[body]), base: graphRange.lowerBound + body.lowerBound,
                                                      path: path, options: decoding)
                    initializers.append((proto, raw, graphRange.lowerBound + start))
                    try reader.seek(to: body.upperBound)
                } else {
                    try skip(&reader, wire: wire)
                    guard graphRest.count + (reader.offset - start) <= limits.maxHeaderBytes else {
                        throw ONNXError(.unsupported, file: path, offset: graphRange.lowerBound + start, "graph nodes exceed \(limits.maxHeaderBytes) bytes")
                    }
                    graphRest += UnsafeRawBufferPointer(rebasing: bytes[start..<reader.offset])
                }
            }
        }
        let graph: Onnx_GraphProto
        do { graph = try Onnx_GraphProto(serializedBytes: graphRest, options: decoding) } catch {
            throw ONNXError(.malformed, file: path, offset: graphRange.lowerBound, "GraphProto: \(error)")
        }

        // Who uses each initializer: MatMul's right operand is stored transposed; anonymous names take their node's path.
        var consumers: [String: [(op: String, slot: Int, node: String)]] = [:]
        var firstOutput: [String: String] = [:]
        var producer: [String: Onnx_NodeProto] = [:]
        var integerProduct: [String: Onnx_NodeProto] = [:]  // MatMulInteger by its B input
        for node in graph.node {
            if let out = node.output.first { firstOutput[node.name] = out }
            for out in node.output { producer[out] = node }
            if node.opType == "MatMulInteger", node.input.count > 1 { integerProduct[node.input[1]] = node }
            for (slot, input) in node.input.enumerated() { consumers[input, default: []].append((node.opType, slot, node.name)) }
        }
        var tensors: [Tensor] = []
        var notes: [String] = []
        var scales: [String: Tensor] = [:]
        var seen = Set<String>()
        var quantized: [(name: String, tensor: Tensor, transposed: Bool)] = []
        var smoothing: [String: Tensor] = [:]
        let folder = splitPath(path).folder
        for (proto, raw, offset) in initializers {
            let tensor = try makeTensor(proto, raw: raw, file: file, folder: folder, path: path, offset: offset)
            // A weight stored in fp16 reaches its MatMul through a Cast; look through it.
            var uses = consumers[proto.name] ?? []
            if uses.count == 1, uses[0].op == "Cast", let out = firstOutput[uses[0].node] {
                uses = consumers[out] ?? []
            }
            if proto.name.hasPrefix("/const") || uses.contains(where: { ["Reshape", "Unsqueeze", "Squeeze", "Range", "Split", "Expand", "ReduceSum"].contains($0.op) && $0.slot > 0 }) {
                continue  // a graph constant, not a weight
            }
            if proto.name.hasSuffix(".weight_zero_point") { continue }
            if proto.name.hasSuffix(".input_smooth") {
                smoothing[proto.name] = tensor
                continue
            }
            if proto.name.hasSuffix("_scale"), proto.name.contains(".weight") {
                scales[String(proto.name.dropLast("_scale".count))] = tensor
                continue
            }
            if proto.name.hasSuffix("_quantized") {
                quantized.append((String(proto.name.dropLast("_quantized".count)), tensor, uses.contains { $0.op == "MatMulInteger" && $0.slot == 1 }))
                continue
            }
            let isMatMulWeight = tensor.shape.rank == 2 && uses.contains { $0.op == "MatMul" && $0.slot == 1 }
            let t = isMatMulWeight ? try tensor.transposed() : tensor
            // The parameter's own name, and one per use whose node path names a parameter: torch.onnx names MatMul
            // weights `onnx::MatMul_123` and shares one initializer among equal tensors (zero biases, say), while its
            // node names keep the module path (`/encoder/layer.0/attention/self/query/MatMul`).
            var names: [String] = looksLikeParameter(proto.name) ? [proto.name] : []
            // torch.onnx's deduplication leaves an Identity per sharing parameter, whose output bears that name.
            for use in uses where use.op == "Identity" {
                guard let out = firstOutput[use.node] else { continue }
                if looksLikeParameter(out), !names.contains(out) { names.append(out) }
            }
            for use in uses where names.isEmpty || !looksLikeParameter(proto.name) {
                if let derived = derivedName(use), !names.contains(derived) { names.append(derived) }
            }
            if names.isEmpty { names = [proto.name] }
            for name in names where !seen.contains(name) {
                seen.insert(name)
                var copy = t
                copy.name = name
                tensors.append(copy)
            }
        }
        for (name, q, transposed) in quantized {
            guard let scale = scales[name] else {
                notes.append("\(name)_quantized has no scale; left out")
                continue
            }
            // A smoothed Linear (`ONNXInt8Activations.smoothed`) reads Mul(x, m) through its DynamicQuantizeLinear and
            // stores W · diag(1 / m): the weight is given back with its columns times m.
            let multipliers = integerProduct[name + "_quantized"]
                .flatMap { producer[$0.input[0]] }
                .flatMap { $0.opType == "DynamicQuantizeLinear" ? producer[$0.input[0]] : nil }
                .flatMap { $0.opType == "Mul" ? $0.input.lazy.compactMap { smoothing[$0] }.first : nil }
            tensors.append(try dequantized(q, scale: scale, name: name, transposed: transposed, columnMultipliers: multipliers))
        }
        tensors = try tensors.flatMap(unstackedQKV)
        if tensors.isEmpty { notes.append("the graph holds no weights as initializers") }
        return ONNXContents(tensors: tensors, configText: configText, notes: notes, nodeTypes: graph.node.map(\.opType),
                            inputNames: graph.input.map(\.name), outputNames: graph.output.map(\.name),
                            hasQuantizedWeights: !quantized.isEmpty)
    }

    /// The parameter a node's input is, from the node's module path and the input's role (nil when they say nothing):
    /// `/encoder/layer.0/output/dense/MatMul` input 1 → `encoder.layer.0.output.dense.weight`, its `Add` → `….bias`,
    /// `LayerNormalization` inputs 1 and 2 → `weight`, `bias`.
    static func derivedName(_ use: (op: String, slot: Int, node: String)) -> String? {
        guard use.node.hasPrefix("/") else { return nil }
        let parts = use.node.split(separator: "/").dropLast()
        guard !parts.isEmpty, !parts.contains(where: { $0.hasPrefix("const") }) else { return nil }
        let role: String
        switch (use.op, use.slot) {
        case ("MatMul", 1), ("Gemm", 1), ("LayerNormalization", 1), ("Gather", 0): role = "weight"
        case ("Add", _), ("Gemm", 2), ("LayerNormalization", 2): role = "bias"
        default: return nil
        }
        return parts.joined(separator: ".") + "." + role
    }

    /// Whether an initializer name is a parameter path (`encoder.layer.0.attention.self.query.bias`) rather than an
    /// exporter's anonymous value (`onnx::MatMul_1234`, `val_12`).
    static func looksLikeParameter(_ name: String) -> Bool {
        !name.contains("::") && (name.hasSuffix(".weight") || name.hasSuffix(".bias") || name.hasSuffix("_embeddings"))
    }

    /// A TensorProto's fields, decoded without its `raw_data` (field 9), whose range in the file is returned instead.
    static func tensorProto(_ bytes: UnsafeRawBufferPointer, base: Int, path: String, options: BinaryDecodingOptions) throws -> (Onnx_TensorProto, Range<Int>?) {
        var reader = ByteReader(bytes, path: path, baseOffset: base)
        var rest: [UInt8] = []
        var raw: Range<Int>?
        while reader.remaining > 0 {
            let start = reader.offset
            let (field, wire) = try key(&reader)
            if field == 9, wire == 2 {
                let n = try length(&reader)
                raw = (base + reader.offset)..<(base + reader.offset + n)
                try reader.seek(to: reader.offset + n)
            } else {
                try skip(&reader, wire: wire)
                rest += UnsafeRawBufferPointer(rebasing: bytes[start..<reader.offset])
            }
        }
        do { return (try Onnx_TensorProto(serializedBytes: rest, options: options), raw) } catch {
            throw ONNXError(.malformed, file: path, offset: base, "TensorProto: \(error)")
        }
    }

    static func makeTensor(_ proto: Onnx_TensorProto, raw: Range<Int>?, file: MappedFile, folder: String, path: String, offset: Int) throws -> Tensor {
        let name = proto.name
        func fail(_ kind: ONNXError.Kind, _ reason: String) -> ONNXError {
            ONNXError(kind, file: path, offset: offset, "initializer '\(name.count > 200 ? String(name.prefix(120)) + "…" : name)': \(reason)")
        }
        guard let type = ONNXElementType(rawValue: proto.dataType) else { throw fail(.unsupported, "element type \(proto.dataType) is not read here") }
        var elements = 1
        var dims: [Int] = []
        for d in proto.dims {
            guard let n = Int(exactly: d), n >= 0 else { throw fail(.malformed, "dimension \(d) is negative") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail(.unsupported, "dims \(proto.dims) overflow") }
            elements = product
            dims.append(n)
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: type.dtype.blockBytes)
        guard !overflow else { throw fail(.unsupported, "dims \(proto.dims) overflow") }
        let shape = Shape(dims)
        if proto.dataLocation == .external {
            let entries = Dictionary(proto.externalData.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            guard let location = entries["location"] else { throw fail(.malformed, "external data without a location") }
            let components = location.split(separator: "/", omittingEmptySubsequences: false)
            guard !location.hasPrefix("/"), !location.isEmpty, !components.contains(where: { $0 == ".." || $0.isEmpty }),
                  !location.utf8.contains(0), location.utf8.count < 1024 else {
                throw fail(.unsafeExternalData, "external data location '\(location.prefix(100))' is not a file inside the model's folder")
            }
            let dataPath = folder + "/" + location
            guard let root = realPath(folder), let resolved = realPath(dataPath), resolved.hasPrefix(root + "/"), !isDirectory(resolved) else {
                throw fail(.unsafeExternalData, "external data '\(location.prefix(100))' is missing or lies outside the model's folder")
            }
            let start = try entries["offset"].map { guard let v = Int($0), v >= 0 else { throw fail(.malformed, "external offset '\($0.prefix(40))'") }; return v } ?? 0
            let length = try entries["length"].map { guard let v = Int($0), v >= 0 else { throw fail(.malformed, "external length '\($0.prefix(40))'") }; return v } ?? bytes
            guard length == bytes else { throw fail(.malformed, "external length \(length) does not match \(type.dtype.rawValue) \(shape) (\(bytes) bytes)") }
            let data: MappedFile
            do { data = try MappedFile(path: resolved) } catch { throw ModelError(error, file: dataPath) }
            let (end, over) = start.addingReportingOverflow(length)
            guard !over, end <= data.count else { throw fail(.malformed, "external data \(start)..<\(start &+ length) lies outside the \(data.count)-byte \(location)") }
            return Tensor(name: name, dtype: type.dtype, shape: shape, data: .mapped(data, range: start..<end))
        }
        if let raw {
            guard raw.count == bytes else { throw fail(.malformed, "raw_data has \(raw.count) bytes, \(type.dtype.rawValue) \(shape) needs \(bytes)") }
            return Tensor(name: name, dtype: type.dtype, shape: shape, data: .mapped(file, range: raw))
        }
        // Small tensors some exporters store as typed fields.
        var buffer: [UInt8] = []
        switch type {
        case .float where proto.floatData.count == elements:
            for v in proto.floatData { withUnsafeBytes(of: v.bitPattern.littleEndian) { buffer += $0 } }
        case .int64 where proto.int64Data.count == elements:
            for v in proto.int64Data { withUnsafeBytes(of: v.littleEndian) { buffer += $0 } }
        case .double where proto.doubleData.count == elements:
            for v in proto.doubleData { withUnsafeBytes(of: v.bitPattern.littleEndian) { buffer += $0 } }
        case .int32 where proto.int32Data.count == elements:
            for v in proto.int32Data { withUnsafeBytes(of: v.littleEndian) { buffer += $0 } }
        default:
            guard elements == 0 else { throw fail(.malformed, "no data for \(type.dtype.rawValue) \(shape)") }
        }
        return Tensor(name: name, dtype: type.dtype, shape: shape, data: .owned(TensorBuffer(buffer)))
    }

    /// A Linear stacked by `--onnx-attention ort` (`….qkv.weight` `[3·hidden, hidden]`, `….qkv.bias`) as the query, key
    /// and value parameters it holds, each a third of its rows; any other tensor unchanged.
    static func unstackedQKV(_ t: Tensor) throws -> [Tensor] {
        guard t.name.hasSuffix(".qkv.weight") || t.name.hasSuffix(".qkv.bias") else { return [t] }
        guard t.shape.rank >= 1, t.shape[0] % 3 == 0, let bytes = t.info.byteCount, bytes % 3 == 0 else {
            throw ONNXError(.malformed, "initializer '\(t.name)' does not split into query, key and value (shape \(t.shape))")
        }
        let third = bytes / 3
        let dims = [t.shape[0] / 3] + t.shape.dimensions.dropFirst()
        let base = t.name.dropLast(t.name.hasSuffix(".weight") ? ".qkv.weight".count : ".qkv.bias".count)
        let role = t.name.hasSuffix(".weight") ? ".weight" : ".bias"
        return ["query", "key", "value"].enumerated().map { i, part in
            Tensor(name: base + "." + part + role, dtype: t.dtype, shape: Shape(dims), data: .producer {
                try t.withBytes { raw in
                    guard raw.count == bytes else { throw ONNXError(.malformed, "initializer '\(t.name)' holds \(raw.count) bytes, not \(bytes)") }
                    return TensorBuffer(copying: UnsafeRawBufferPointer(rebasing: raw[(i * third)..<((i + 1) * third)]))
                }
            })
        }
    }

    /// The fp32 `[out, in]` weight behind quantized initializers: MatMulNBits' `[out, in / 32, 32]` uint8 with a scale
    /// per block (`(q − 128) · scale`), MatMulInteger's `[in, out]` int8 or an embedding table's `[rows, width]` int8 with
    /// a scale per output channel or row (`q · scale`).
    static func dequantized(_ q: Tensor, scale: Tensor, name: String, transposed: Bool, columnMultipliers: Tensor? = nil) throws -> Tensor {
        let bad = ONNXError(.unsupported, "initializer '\(name)_quantized' is not an int8 matrix / uint8 blocks with fp32 scales")
        guard scale.dtype == .f32, let scaleCount = scale.shape.elementCount else { throw bad }
        if q.dtype == .u8, q.shape.rank == 3 {
            let (rows, blocks, block) = (q.shape[0], q.shape[1], q.shape[2])
            let (blockCount, overflow) = rows.multipliedReportingOverflow(by: blocks)
            guard block > 0, !overflow, scaleCount == blockCount, let count = q.shape.elementCount else { throw bad }
            return Tensor(name: name, dtype: .f32, shape: [rows, blocks * block], data: .producer {
                let s = try scale.withBytes { b in (0..<scaleCount).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
                let out = TensorBuffer(count: count * 4)
                try q.withBytes { b in
                    out.withMutableBytes { o in
                        for i in 0..<count {
                            o.storeBytes(of: (Float(Int(b[i]) - 128) * s[i / block]).bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
                        }
                    }
                }
                return out
            })
        }
        guard q.dtype == .i8, q.shape.rank == 2 else { throw bad }
        let (rows, columns) = transposed ? (q.shape[1], q.shape[0]) : (q.shape[0], q.shape[1])
        guard scaleCount == rows else {
            throw ONNXError(.malformed, "initializer '\(name)_scale' has \(scaleCount) values for \(rows) channels")
        }
        if let m = columnMultipliers, m.dtype != .f32 || m.shape.elementCount != columns {
            throw ONNXError(.malformed, "the smoothing multipliers of '\(name)' are not \(columns) fp32 values")
        }
        return Tensor(name: name, dtype: .f32, shape: [rows, columns], data: .producer {
            let s: [Float] = try scale.withBytes { b in (0..<rows).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
            let m: [Float] = try columnMultipliers?.withBytes { b in
                (0..<columns).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            } ?? [Float](repeating: 1, count: columns)
            let out = TensorBuffer(count: rows * columns * 4)
            try q.withBytes { b in
                out.withMutableBytes { o in
                    for r in 0..<rows {
                        for c in 0..<columns {
                            let v = Int8(bitPattern: b[transposed ? c * rows + r : r * columns + c])
                            o.storeBytes(of: (Float(v) * s[r] * m[c]).bitPattern.littleEndian, toByteOffset: (r * columns + c) * 4, as: UInt32.self)
                        }
                    }
                }
            }
            return out
        })
    }

    // MARK: - Wire format

    static func key(_ reader: inout ByteReader) throws -> (field: UInt64, wire: UInt64) {
        let k = try reader.readVarint()
        guard k >> 3 > 0 else { throw ONNXError(.malformed, file: reader.path, offset: reader.baseOffset + reader.offset, "field number 0") }
        return (k >> 3, k & 7)
    }

    static func length(_ reader: inout ByteReader) throws -> Int {
        let start = reader.offset
        let raw = try reader.readVarint()
        guard let n = Int(exactly: raw), n <= reader.remaining else {
            throw ONNXError(.malformed, file: reader.path, offset: reader.baseOffset + start,
                            "length \(raw) runs past the end (\(reader.remaining) bytes remain)")
        }
        return n
    }

    static func skip(_ reader: inout ByteReader, wire: UInt64) throws {
        switch wire {
        case 0: _ = try reader.readVarint()
        case 1: _ = try reader.readBytes(8)
        case 2: _ = try reader.readBytes(try length(&reader))
        case 5: _ = try reader.readBytes(4)
        default:
            throw ONNXError(.malformed, file: reader.path, offset: reader.baseOffset + reader.offset, "wire type \(wire) is not one protobuf writes")
        }
    }
}
