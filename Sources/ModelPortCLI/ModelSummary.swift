import BinaryIO
import ModelIR
import Transforms

/// What `inspect` shows about a model, as text or as one JSON object.
struct ModelSummary: Sendable {
    let source: String
    let model: Model

    init(source: String, model: Model) {
        self.source = source
        self.model = model
    }

    /// The summary as a JSON object (the `--json` output).
    var json: JSON {
        let tensors = model.tensors.map { t in
            JSON.object([
                ("name", .string(t.name)), ("dtype", .string(t.dtype.rawValue)),
                ("shape", .array(t.shape.dimensions.map(JSON.integer))), ("bytes", .integer(t.info.byteCount ?? -1)),
            ])
        }
        return .object([
            ("source", .string(source)),
            ("format", .string(model.sourceFormat)),
            ("architecture", .string(model.config.architecture.rawValue)),
            ("task", .object([("head", .string(model.task.head.rawValue)), ("labels", .array(model.task.labels.map(JSON.string))),
                              ("pooling", model.pipeline.map { .string($0.pooling.rawValue) } ?? .null)])),
            ("config", .object(model.config.members)),
            ("quantized", model.config.packedQuantizationDescription.map(JSON.string) ?? .null),
            ("tensor_count", .integer(model.tensors.count)),
            ("parameter_count", .integer(model.parameterCount ?? -1)),
            ("total_bytes", .integer(model.byteCount ?? -1)),
            ("dtypes", .object(dtypeCounts.map { ($0.dtype.rawValue, JSON.integer($0.count)) })),
            ("metadata", .object(model.metadata.map { ($0.key, JSON.string($0.value)) })),
            ("auxiliary_files", .array(model.auxiliaryFiles.map { .string($0.name) })),
            ("dropped", .array(model.dropped.map {
                .object([("name", .string($0.name)), ("reason", .string($0.reason)), ("bytes", .integer($0.byteCount))])
            })),
            ("notes", .array(model.notes.map { .string($0.text) })),
            ("tensors", .array(tensors)),
        ])
    }

    /// Tensor counts per dtype, most common first.
    var dtypeCounts: [(dtype: DType, count: Int)] {
        var counts: [DType: Int] = [:]
        for t in model.tensors { counts[t.dtype, default: 0] += 1 }
        return counts.map { ($0.key, $0.value) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.dtype.rawValue < $1.dtype.rawValue }
    }

    /// The summary as aligned text (the default `inspect` output).
    var text: String {
        let config = model.config
        var lines: [String] = []
        lines.append("source:       \(source)")
        lines.append("format:       \(model.sourceFormat)")
        lines.append("architecture: \(config.architecture.rawValue)")
        let task = model.task
        if task.head != .encoder {
            var line = "task:         \(task.head.description)"
            if !task.labels.isEmpty { line += ", \(task.labels.count) label\(task.labels.count == 1 ? "" : "s"): " + task.labels.prefix(8).joined(separator: ", ") + (task.labels.count > 8 ? ", …" : "") }
            if let pipeline = model.pipeline {
                line += "; pooling \(pipeline.pooling.rawValue)" + (pipeline.dense.isEmpty ? "" : ", \(pipeline.dense.count) Dense") + (pipeline.normalize ? ", Normalize" : "")
            }
            lines.append(line)
        }
        let keys: [(String, Int?)] = [
            ("hidden_size", config.hiddenSize), ("num_hidden_layers", config.numHiddenLayers),
            ("num_attention_heads", config.numAttentionHeads), ("intermediate_size", config.intermediateSize),
            ("vocab_size", config.vocabSize), ("max_position_embeddings", config.maxPositionEmbeddings),
            ("type_vocab_size", config.typeVocabSize), ("embedding_size", config.embeddingSize),
        ]
        let shown = keys.compactMap { key, value in value.map { "\(key)=\($0)" } }
        if !shown.isEmpty { lines.append("config:       " + shown.joined(separator: " ")) }
        var extra: [String] = []
        if let eps = config.layerNormEps { extra.append("layer_norm_eps=\(eps)") }
        if let act = config.hiddenAct { extra.append("hidden_act=\(act)") }
        if !extra.isEmpty { lines.append("              " + extra.joined(separator: " ")) }
        if let packed = config.packedQuantizationDescription { lines.append("quantized:    " + packed) }
        lines.append("tensors:      \(model.tensors.count) (" + dtypeCounts.map { "\($0.count) \($0.dtype.rawValue)" }.joined(separator: ", ") + ")")
        lines.append("parameters:   \(formatCount(model.parameterCount ?? 0))")
        lines.append("bytes:        \(formatBytes(model.byteCount ?? 0))")
        if !model.auxiliaryFiles.isEmpty { lines.append("files:        " + model.auxiliaryFiles.map(\.name).joined(separator: ", ")) }
        if !model.metadata.isEmpty {
            lines.append("metadata:     " + model.metadata.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        if let dropped = droppedSummary(model.dropped) { lines.append("dropped:      " + dropped) }
        for note in model.notes { lines.append("note:         " + note.text) }
        lines.append("")
        let rows = model.tensors.map { t in [t.name, t.dtype.rawValue, t.shape.description, String(t.info.byteCount ?? 0)] }
        lines += table(header: ["name", "dtype", "shape", "bytes"], rows: rows, rightAligned: [3])
        return lines.joined(separator: "\n")
    }
}

/// `12 tensors (1.5 MiB): 10 × optimizer slot, 2 × step counter`, or `nil` when nothing was dropped.
func droppedSummary(_ dropped: [DroppedTensor]) -> String? {
    guard !dropped.isEmpty else { return nil }
    var reasons: [String: Int] = [:]
    for d in dropped { reasons[d.reason, default: 0] += 1 }
    return "\(dropped.count) tensors (\(formatBytes(dropped.reduce(0) { $0 + $1.byteCount }))): "
        + reasons.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key)" }.joined(separator: ", ")
}

/// Aligned columns, two spaces apart (the last column unpadded unless right-aligned).
func table(header: [String], rows: [[String]], rightAligned: Set<Int> = []) -> [String] {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            let pad = String(repeating: " ", count: widths[i] - cell.count)
            return rightAligned.contains(i) ? pad + cell : (i == cells.count - 1 ? cell : cell + pad)
        }.joined(separator: "  ")
    }
    return [line(header)] + rows.map(line)
}

/// `1234567` → `1,234,567`.
func formatCount(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(d)
    }
    return out
}

/// Bytes in the largest binary unit that keeps the number ≥ 1 (`12.5 MiB`).
func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    if unit == 0 { return "\(n) B" }
    let rounded = (value * 10).rounded() / 10
    return "\(rounded) \(units[unit])"
}
