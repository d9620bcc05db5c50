import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ModelIR
import SwiftProtobuf

/// Writes an `ONNXPlan` as a ModelProto (`Schemas/onnx.proto`), streaming the initializers.
///
/// The graph's nodes and value infos are serialized by swift-protobuf; the initializers are framed by hand around
/// their raw bytes (protobuf's wire format: a field key, a varint length, the bytes), so every length is known from the
/// plan before any weight is read, and one tensor at a time passes through memory. Protobuf parsers accept a message's
/// fields in any order, so `graph` (field 7) holds the serialized nodes first and the initializers (field 5) after.
public enum ONNXWriter {
    /// Protobuf's 2 GiB message limit: a model file past it goes to external data.
    public static let protobufLimit = Int(Int32.max)
    /// External data offsets are aligned to this (ONNX's `save_model` aligns large tensors the same way for mapping).
    static let alignment = 4096

    /// Writes `plan` to `path` (and `path`'s `_data` file when external data is used). Returns the file names written.
    @discardableResult
    public static func write(_ plan: ONNXPlan, to path: String, external: ONNXExternalData = .automatic,
                             options: OutputOptions = .init(), allowExternal: Bool = true) throws -> [String] {
        var model = Onnx_ModelProto()
        model.irVersion = Int64(ONNXPlan.irVersion)
        model.producerName = "ModelPort"
        model.producerVersion = "1"
        var opset = Onnx_OperatorSetIdProto()
        opset.version = Int64(ONNXPlan.opset)
        model.opsetImport = [opset]
        if plan.usesMicrosoftDomain {
            var ms = Onnx_OperatorSetIdProto()
            ms.domain = "com.microsoft"
            ms.version = 1
            model.opsetImport.append(ms)
        }
        model.metadataProps = plan.metadata.map {
            var entry = Onnx_StringStringEntryProto()
            entry.key = $0.key
            entry.value = $0.value
            return entry
        }
        let header: [UInt8] = try model.serializedBytes()
        let graph: [UInt8] = try plan.graph.serializedBytes()

        var rawTotal = 0
        for i in plan.initializers {
            guard let n = i.byteCount else { throw ONNXError(.cannotExport, "initializer '\(i.name)' has no valid byte size") }
            rawTotal = rawTotal.addingReportingOverflow(n).partialValue
        }
        let useExternal = external == .always || rawTotal + graph.count + header.count + (1 << 20) > protobufLimit
        // A graph written under a staging name is renamed later; its data file would keep the staging name.
        guard !useExternal || allowExternal else {
            throw ModelError(kind: .unsupported, file: path,
                             "a graph checked before it takes its name (a required minimum cosine) cannot use external data yet")
        }
        let dataName = splitPath(path).name + "_data"

        // Every initializer's TensorProto without its bytes, then its framing.
        var offset = 0
        var entries: [(meta: [UInt8], raw: Int, padding: Int)] = []
        var graphLength = graph.count
        for i in plan.initializers {
            var tensor = Onnx_TensorProto()
            tensor.name = i.name
            tensor.dataType = i.type.rawValue
            tensor.dims = i.dims.map(Int64.init)
            let n = i.byteCount ?? 0
            var padding = 0
            var inlineBytes = n
            if useExternal {
                padding = (alignment - offset % alignment) % alignment
                offset += padding
                tensor.dataLocation = .external
                tensor.externalData = [("location", dataName), ("offset", String(offset)), ("length", String(n))].map {
                    var entry = Onnx_StringStringEntryProto()
                    entry.key = $0.0
                    entry.value = $0.1
                    return entry
                }
                offset += n
                inlineBytes = -1
            }
            var meta: [UInt8] = try tensor.serializedBytes()
            var bodyLength = meta.count
            if inlineBytes >= 0 {
                meta += [0x4A] + varint(UInt64(n))  // field 9 (raw_data), length-delimited
                bodyLength = meta.count + n
            }
            let entry = [0x2A] + varint(UInt64(bodyLength))  // GraphProto field 5 (initializer)
            graphLength += entry.count + bodyLength
            entries.append((entry + meta, inlineBytes >= 0 ? n : 0, padding))
        }

        let file = try AtomicFile(destination: path, existing: options.existing)
        try file.write(header)
        try file.write([0x3A] + varint(UInt64(graphLength)))  // ModelProto field 7 (graph)
        try file.write(graph)
        let data = useExternal ? try AtomicFile(destination: splitPath(path).folder + "/" + dataName, existing: options.existing) : nil
        for (i, entry) in zip(plan.initializers, entries) {
            try file.write(entry.meta)
            let target = data ?? file
            if entry.padding > 0 { try target.writeZeros(entry.padding) }
            let expected = i.byteCount ?? 0
            if let count = i.data.byteCountIfKnown {
                // Mapped bytes go file to file; streamed ones (transposed weights) are written as they are computed.
                guard count == expected else {
                    throw ONNXError(.cannotExport, "initializer '\(i.name)' has \(count) bytes, its dims need \(expected)")
                }
                try i.data.write(to: target)
            } else {
                try i.data.withBytes { bytes in
                    guard bytes.count == expected else {
                        throw ONNXError(.cannotExport, "initializer '\(i.name)' has \(bytes.count) bytes, its dims need \(expected)")
                    }
                    try target.write(bytes)
                }
            }
            options.progress?(i.name, expected)
        }
        try data?.commit()
        try file.commit()
        return data == nil ? [splitPath(path).name] : [splitPath(path).name, dataName]
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }
}
