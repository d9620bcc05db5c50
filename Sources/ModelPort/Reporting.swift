import BinaryIO
import ModelIR
import Reports
import Transforms
import Verifier

/// Fills the HTML reports' values (`Reports.ComparisonReport`) from models and measurements: the models' facts,
/// the quality of every tensor whose type changed, and the tokens of `--text` inputs.
public enum Reporting {
    /// What the report shows about a model, from its headers alone.
    public static func facts(path: String, model: Model) -> ModelFacts {
        var counts: [DType: Int] = [:]
        for t in model.tensors { counts[t.dtype, default: 0] += 1 }
        let dtypes = counts.map { DTypeCount(dtype: $0.key.rawValue, count: $0.value) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.dtype < $1.dtype }
        // Packed weights count as the weights they stand for, not as their u32 words.
        let parameters = (try? model.dequantizingPacked())?.parameterCount ?? model.parameterCount
        return ModelFacts(path: path, format: model.sourceFormat, architecture: model.config.architecture.rawValue,
                          layers: model.layerCount, hiddenSize: model.config.hiddenSize, tensorCount: model.tensors.count,
                          dtypes: dtypes, parameters: parameters, bytes: model.byteCount,
                          quantization: model.config.packedQuantizationDescription, dropped: model.dropped, notes: model.notes.map(\.text))
    }

    /// Every float tensor of `reference` whose counterpart in `candidate` (same canonical name, same element count)
    /// is stored in another type, measured against it. Reads both models' tensors once more.
    public static func tensorQuality(reference: Model, candidate: Model) throws -> [TensorRow] {
        let originals = Dictionary(try reference.dequantizingPacked().tensors.map { (baseName($0.name), $0) }, uniquingKeysWith: { a, _ in a })
        let stored = Dictionary(candidate.tensors.map { ($0.name, $0.dtype) }, uniquingKeysWith: { a, _ in a })
        let referenceTypes = Dictionary(reference.tensors.map { (baseName($0.name), $0.dtype) }, uniquingKeysWith: { a, _ in a })
        let bits = bitsPerWeight(candidate)
        return try candidate.dequantizingPacked().tensors.compactMap { t in
            guard let original = originals[baseName(t.name)], original.dtype.isFloatingPoint, let type = stored[t.name],
                  type != referenceTypes[baseName(t.name)], original.info.elementCount == t.info.elementCount else { return nil }
            var quality = try TensorQuality.measure(name: t.name, reference: original, candidate: t)
            quality.dtype = type
            return TensorRow(quality: quality, bitsPerWeight: bits[t.name])
        }
    }

    /// The name without the base model's prefix that task models add (`bert.encoder.layer.0…` in BertForPreTraining
    /// is `encoder.layer.0…` in BertModel), so that a checkpoint with heads matches a bare encoder's tensors.
    static func baseName(_ name: String) -> String {
        guard let dot = name.firstIndex(of: "."), !name[..<dot].contains(where: \.isNumber) else { return name }
        let rest = name[name.index(after: dot)...]
        return ["embeddings.", "encoder.", "pooler."].contains { rest.hasPrefix($0) } ? String(rest) : name
    }

    /// The rows of a conversion's quality report, with bits per weight from the written model (`output`, read back).
    public static func tensorRows(_ quality: [TensorQuality], output: Model?) -> [TensorRow] {
        let bits = output.map(bitsPerWeight) ?? [:]
        return quality.map { TensorRow(quality: $0, bitsPerWeight: bits[$0.name] ?? nominalBits($0.dtype)) }
    }

    /// Stored bits per weight of every weight: a block type's bytes per block over its values (Q4_K: 144 bytes for
    /// 256 values, 4.5), or for packed weights the codes with their scales and biases over the weights they expand to.
    static func bitsPerWeight(_ model: Model) -> [String: Double] {
        let byName = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        guard let expanded = try? model.dequantizingPacked() else { return [:] }
        var bits: [String: Double] = [:]
        for t in expanded.tensors {
            guard let storedTensor = byName[t.name], let elements = t.info.elementCount, elements > 0 else { continue }
            let base = t.name.hasSuffix(".weight") ? String(t.name.dropLast(".weight".count)) : t.name
            let companions = storedTensor.dtype == t.dtype ? [] : [".weight_scale", ".scales", ".biases"].compactMap { byName[base + $0] }
            let bytes = ([storedTensor] + companions).compactMap(\.info.byteCount).reduce(0, +)
            bits[t.name] = Double(bytes) * 8 / Double(elements)
        }
        return bits
    }

    /// A type's bits per value: 32 for f32, 8.5 for Q8_0 (34 bytes per 32 values).
    static func nominalBits(_ dtype: DType) -> Double {
        Double(dtype.blockBytes * 8) / Double(dtype.blockSize)
    }

    /// The token strings of `inputs` as the model's own tokenizer spells them (empty without a tokenizer).
    public static func tokenTexts(_ inputs: EncoderInputs, model: Model) -> [[String]] {
        guard let tokenizer = try? Verification.tokenizer(for: model) else { return [] }
        return inputs.inputIds.map { $0.map { tokenizer.token(of: $0) ?? "[\($0)]" } }
    }

    /// The HTML report of a conversion: its source against its output, with the measured quality.
    public static func conversion(_ report: ConversionReport, source: Model, output: Model?, generator: String) -> ComparisonReport {
        var facts = output.map { self.facts(path: report.destination, model: $0) }
            ?? ModelFacts(path: report.destination, format: report.format.name, architecture: source.config.architecture.rawValue,
                          tensorCount: report.tensorCount, dtypes: [], parameters: report.parametersAfter, bytes: report.bytesWritten)
        facts.dropped = report.dropped
        // The batch the converter's end-to-end check ran (Converter: `Verification.inputs(from: nil, …)`).
        let batch = try? Verification.inputs(from: nil, for: [source])
        let candidate = CandidateResult(facts: facts, parity: report.parity, tensors: tensorRows(report.tensorQuality, output: output),
                                        notes: report.notes.map(\.text))
        return ComparisonReport(kind: .conversion, reference: self.facts(path: report.source, model: source), candidates: [candidate],
                                inputs: "the standard deterministic batch" + (batch.map { " (\($0.batch) sequences × \($0.length) tokens)" } ?? ""),
                                generator: generator)
    }
}
