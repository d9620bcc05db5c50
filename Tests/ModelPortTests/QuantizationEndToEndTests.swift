import BinaryIO
import ModelIR
import ModelPort
import Quantization
import Transforms
import TestSupport
import Testing

/// A BERT whose widths are multiples of 256, so K-quants apply to every weight matrix (the committed samples are
/// 32 wide and would all fall back). Weights are drawn as BERT initialises them (normal, std 0.02; LayerNorm 1 ± 0.1),
/// written as a Hugging Face folder.
enum WideBERT {
    static func write(to folder: String, hidden: Int = 256, intermediate: Int = 512, layers: Int = 2, vocab: Int = 96, positions: Int = 32,
                      poison: (name: String, index: Int, value: Float)? = nil) throws {
        var generator = SeededGenerator(seed: 2026)
        func normal(_ count: Int, mean: Float = 0, std: Float) -> TensorBuffer {
            let buffer = TensorBuffer(count: count * 4)
            buffer.withMutableBytes { out in
                for i in 0..<count {
                    // Box–Muller from two uniforms.
                    let u1 = max(Float.random(in: 0..<1, using: &generator), 1e-7), u2 = Float.random(in: 0..<1, using: &generator)
                    let z = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
                    out.storeBytes(of: (mean + std * z).bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
                }
            }
            return buffer
        }
        var tensors: [Tensor] = []
        func add(_ name: String, _ shape: [Int], mean: Float = 0, std: Float = 0.02) {
            let buffer = normal(shape.reduce(1, *), mean: mean, std: std)
            if let poison, poison.name == name {
                buffer.withMutableBytes { $0.storeBytes(of: poison.value.bitPattern.littleEndian, toByteOffset: poison.index * 4, as: UInt32.self) }
            }
            tensors.append(Tensor(name: name, dtype: .f32, shape: Shape(shape), data: .owned(buffer)))
        }
        add("embeddings.word_embeddings.weight", [vocab, hidden])
        add("embeddings.position_embeddings.weight", [positions, hidden])
        add("embeddings.token_type_embeddings.weight", [2, hidden])
        add("embeddings.LayerNorm.weight", [hidden], mean: 1, std: 0.1)
        add("embeddings.LayerNorm.bias", [hidden], std: 0.1)
        for l in 0..<layers {
            let p = "encoder.layer.\(l)."
            for m in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
                add(p + m + ".weight", [hidden, hidden])
                add(p + m + ".bias", [hidden])
            }
            add(p + "attention.output.LayerNorm.weight", [hidden], mean: 1, std: 0.1)
            add(p + "attention.output.LayerNorm.bias", [hidden], std: 0.1)
            add(p + "intermediate.dense.weight", [intermediate, hidden])
            add(p + "intermediate.dense.bias", [intermediate])
            add(p + "output.dense.weight", [hidden, intermediate])
            add(p + "output.dense.bias", [hidden])
            add(p + "output.LayerNorm.weight", [hidden], mean: 1, std: 0.1)
            add(p + "output.LayerNorm.bias", [hidden], std: 0.1)
        }
        let config = try ModelConfig(huggingFaceJSON: JSON.parse(Array("""
            {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": \(hidden), "intermediate_size": \(intermediate),
             "num_hidden_layers": \(layers), "num_attention_heads": 4, "vocab_size": \(vocab), "max_position_embeddings": \(positions),
             "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "pad_token_id": 0}
            """.utf8)))
        let vocabulary = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (5..<vocab).map { "w\($0)" }).joined(separator: "\n") + "\n"
        let model = Model(tensors: tensors, config: config, auxiliaryFiles: [AuxiliaryFile(name: "vocab.txt", contents: Array(vocabulary.utf8))])
        _ = try HuggingFaceOutput().write(try HuggingFaceOutput().prepare(model), to: folder, options: OutputOptions())
    }
}

@Suite struct KQuantConversionTests {
    @Test(arguments: [(DType.q4_K, 0.995), (.q5_K, 0.998), (.q6_K, 0.9995)])
    func kQuantGGUFKeepsTheModel(type: DType, minimum: Double) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try WideBERT.write(to: folder.file("wide"))
        let report = try Converter.convert(source: folder.file("wide"), destination: folder.file("m.gguf"),
                                           options: ConversionOptions(output: GGUFOutput(types: .uniform(try #require(GGUFType(type))))))
        let gguf = try ModelLoader.load(folder.file("m.gguf"))
        #expect(gguf["encoder.layer.1.output.dense.weight"]?.dtype == type)
        #expect(gguf["embeddings.word_embeddings.weight"]?.dtype == type)
        #expect(gguf["encoder.layer.1.output.LayerNorm.weight"]?.dtype == .f32)
        let parity = try #require(report.parity)
        #expect(parity.last.cosineSimilarity >= minimum, "\(type): end-to-end cosine \(parity.last.cosineSimilarity)")
        #expect(report.notes.allSatisfy { !$0.text.contains("written as") }, "\(report.notes)")
    }

    @Test func q4KMPresetGivesValueAndDownProjectionsMoreBits() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try WideBERT.write(to: folder.file("wide"), layers: 3)
        let options = ConversionOptions(output: GGUFOutput(types: .preset(.q4_K_M)))
        let report = try Converter.convert(source: folder.file("wide"), destination: folder.file("m.gguf"), options: options)
        let gguf = try ModelLoader.load(folder.file("m.gguf"))
        // 3 layers: use_more_bits picks layer 2 (7·3/8 = 2) only.
        #expect(gguf["encoder.layer.2.attention.self.value.weight"]?.dtype == .q6_K)
        #expect(gguf["encoder.layer.2.output.dense.weight"]?.dtype == .q6_K)
        #expect(gguf["encoder.layer.0.attention.self.value.weight"]?.dtype == .q4_K)
        #expect(gguf["encoder.layer.2.attention.self.query.weight"]?.dtype == .q4_K)
        #expect(try #require(report.parity).last.cosineSimilarity >= 0.995)
    }

    @Test func narrowRowsFallBackAsLlamaQuantizeDoes() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let report = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("m.gguf"),
                                           options: ConversionOptions(output: GGUFOutput(types: .uniform(.q6_K))))
        #expect(report.notes.contains { $0.text.contains("written as Q8_0 (as llama-quantize does)") })
        #expect(try ModelLoader.load(folder.file("m.gguf"))["encoder.layer.0.attention.self.query.weight"]?.dtype == .q8_0)
    }
}

/// A NaN or infinite weight is refused with the tensor's name and the element's index, whatever the quantized output,
/// instead of trapping (Q8_0, K-quant fallbacks) or being written as a finite number (Q4_0 … Q5_1, int8, MLX).
@Suite struct NonFiniteWeightTests {
    static let poisoned = "encoder.layer.1.attention.self.value.weight"

    @Test(arguments: [DType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K])
    func ggufQuantizationNamesTheTensorAndElement(type: DType) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try WideBERT.write(to: folder.file("wide"), poison: (Self.poisoned, 1234, .nan))
        let error = #expect(throws: ModelError.self) {
            try Converter.convert(source: folder.file("wide"), destination: folder.file("m.gguf"), options: ConversionOptions(output: GGUFOutput(types: .uniform(try #require(GGUFType(type))))))
        }
        #expect(error?.location == .tensor("blk.1.attn_v.weight"))
        #expect(error?.cause as? NonFiniteValue == NonFiniteValue(index: 1234, kind: .nan))
        #expect(error?.reason.contains(type.rawValue.uppercased()) == true, "\(error?.description ?? "")")
        #expect(!fileExists(folder.file("m.gguf")))
    }

    /// A tensor larger than one 8 MB piece of the quantizer: the element is named by its index in the whole tensor.
    @Test(arguments: [DType.q8_0, .q4_K])
    func ggufQuantizationNamesTheElementPastTheFirstPiece(type: DType) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try WideBERT.write(to: folder.file("wide"), layers: 1, vocab: 9000, poison: ("embeddings.word_embeddings.weight", 2_200_001, .infinity))
        let error = #expect(throws: ModelError.self) {
            try Converter.convert(source: folder.file("wide"), destination: folder.file("m.gguf"), options: ConversionOptions(output: GGUFOutput(types: .uniform(try #require(GGUFType(type))))))
        }
        #expect(error?.location == .tensor("token_embd.weight"))
        #expect(error?.cause as? NonFiniteValue == NonFiniteValue(index: 2_200_001, kind: .positiveInfinity))
        #expect(!fileExists(folder.file("m.gguf")))
    }

    @Test(arguments: [PackedScheme.int8PerChannel, .mlxAffine(bits: 4, groupSize: 64)])
    func packedQuantizationNamesTheTensorAndElement(scheme: PackedScheme) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try WideBERT.write(to: folder.file("wide"), poison: (Self.poisoned, 7, -.infinity))
        let options = ConversionOptions(output: HuggingFaceOutput(packing: scheme))
        let error = #expect(throws: ModelError.self) {
            try Converter.convert(source: folder.file("wide"), destination: folder.file("out"), options: options)
        }
        #expect(error?.location == .tensor(Self.poisoned))
        #expect(error?.cause as? NonFiniteValue == NonFiniteValue(index: 7, kind: .negativeInfinity))
    }

    /// Float casts are not quantization: NaN stays NaN there, and such a model still converts.
    @Test func halfCastKeepsNaN() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try WideBERT.write(to: folder.file("wide"), poison: (Self.poisoned, 3, .nan))
        let options = ConversionOptions(output: GGUFOutput(types: .uniform(.f16)), quality: .off)
        _ = try Converter.convert(source: folder.file("wide"), destination: folder.file("m.gguf"), options: options)
        let tensor = try #require(try ModelLoader.load(folder.file("m.gguf"))[Self.poisoned])
        let value = try tensor.withBytes { Float(Float16(bitPattern: UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))) }
        #expect(value.isNaN)
    }
}
