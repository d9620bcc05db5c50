import BinaryIO
import ModelIR
import ModelPort
@testable import GGUFFormat
import Testing

/// `--preset q4_k_m` / `q5_k_m` choose each tensor's type as llama-quantize does (llama.cpp `src/llama-quant.cpp`,
/// `llama_tensor_get_type`), on BERTs as wide as all-MiniLM-L6-v2 (384) and bert-base (768), whose embeddings are
/// tied: `token_embd` takes the output tensor's type. Types are planned lazily, so no weight is computed here.
@Suite struct LlamaMixTests {
    /// A BERT with `layers` blocks whose tensors are never read (a read fails the test).
    static func model(hidden: Int, intermediate: Int, layers: Int, vocab: Int = 1000) throws -> Model {
        var tensors: [Tensor] = []
        func add(_ name: String, _ shape: [Int]) {
            tensors.append(Tensor(name: name, dtype: .f32, shape: Shape(shape), data: .producer {
                Issue.record("\(name) was computed while planning types")
                return TensorBuffer(count: shape.reduce(4, *))
            }))
        }
        add("embeddings.word_embeddings.weight", [vocab, hidden])
        add("embeddings.position_embeddings.weight", [512, hidden])
        add("embeddings.token_type_embeddings.weight", [2, hidden])
        add("embeddings.LayerNorm.weight", [hidden])
        add("embeddings.LayerNorm.bias", [hidden])
        for l in 0..<layers {
            let p = "encoder.layer.\(l)."
            for m in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
                add(p + m + ".weight", [hidden, hidden])
                add(p + m + ".bias", [hidden])
            }
            add(p + "attention.output.LayerNorm.weight", [hidden])
            add(p + "intermediate.dense.weight", [intermediate, hidden])
            add(p + "output.dense.weight", [hidden, intermediate])
            add(p + "output.LayerNorm.weight", [hidden])
        }
        let config = try ModelConfig(huggingFaceJSON: JSON.parse(Array("""
            {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": \(hidden), "intermediate_size": \(intermediate),
             "num_hidden_layers": \(layers), "num_attention_heads": 12, "vocab_size": \(vocab), "max_position_embeddings": 512,
             "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}
            """.utf8)))
        // In name order, as a safetensors file lists them: block 10 comes before block 2.
        return Model(tensors: tensors.sorted { $0.name < $1.name }, config: config)
    }

    static func types(_ preset: String, hidden: Int, intermediate: Int, layers: Int, rules: [(String, DType)] = []) throws -> [String: DType] {
        let output = GGUFOutput(types: .preset(try #require(GGUFPreset(rawValue: preset))),
                                rules: try rules.map { try TypeRule(pattern: $0.0, type: try #require(GGUFType($0.1))) })
        let exported = try output.prepare(try model(hidden: hidden, intermediate: intermediate, layers: layers)).model
        return Dictionary(uniqueKeysWithValues: exported.tensors.map { ($0.name, $0.dtype) })
    }

    /// llama.cpp's `use_more_bits` for 12 blocks: i < 1, i >= 10, or (i - 1) % 3 == 2.
    static let moreBits12: Set<Int> = [0, 3, 6, 9, 10, 11]

    @Test(arguments: [("q4_k_m", DType.q4_K), ("q5_k_m", .q5_K)])
    func width768(preset: String, main: DType) throws {
        let types = try Self.types(preset, hidden: 768, intermediate: 3072, layers: 12)
        #expect(types["token_embd.weight"] == .q6_K)
        #expect(types["position_embd.weight"] == .f32)
        #expect(types["token_types.weight"] == .f32)
        #expect(types["token_embd_norm.weight"] == .f32)
        for l in 0..<12 {
            let more: DType = Self.moreBits12.contains(l) ? .q6_K : main
            #expect(types["blk.\(l).attn_v.weight"] == more, "layer \(l)")
            #expect(types["blk.\(l).ffn_down.weight"] == more, "layer \(l)")
            for other in ["attn_q", "attn_k", "attn_output", "ffn_up"] { #expect(types["blk.\(l).\(other).weight"] == main) }
            #expect(types["blk.\(l).attn_output_norm.weight"] == .f32)
        }
    }

    /// 384 is not a multiple of 256: token_embd takes Q8_0 at once, K-quants fall back (Q4_K → Q5_0, Q5_K → Q5_1,
    /// Q6_K → Q8_0); ffn_down's rows are 1536 wide and keep their K-quants.
    @Test(arguments: [("q4_k_m", DType.q4_K, DType.q5_0), ("q5_k_m", .q5_K, .q5_1)])
    func width384(preset: String, main: DType, narrow: DType) throws {
        let types = try Self.types(preset, hidden: 384, intermediate: 1536, layers: 12)
        #expect(types["token_embd.weight"] == .q8_0)
        for l in 0..<12 {
            let more = Self.moreBits12.contains(l)
            #expect(types["blk.\(l).attn_v.weight"] == (more ? .q8_0 : narrow), "layer \(l)")
            #expect(types["blk.\(l).ffn_down.weight"] == (more ? .q6_K : main), "layer \(l)")
            for other in ["attn_q", "attn_k", "attn_output", "ffn_up"] { #expect(types["blk.\(l).\(other).weight"] == narrow) }
        }
    }

    /// Six blocks: n/8 = 0 and 7n/8 = 5, so use_more_bits holds for i >= 5 or i % 3 == 2: blocks 2 and 5.
    /// (The 12-block tests above list the tensors in name order, block 10 before block 2, and still expect
    /// llama.cpp's order, blocks by number.)
    @Test func sixBlocks() throws {
        let types = try Self.types("q4_k_m", hidden: 256, intermediate: 512, layers: 6)
        #expect((0..<6).filter { types["blk.\($0).attn_v.weight"] == .q6_K } == [2, 5])
        #expect((0..<6).filter { types["blk.\($0).ffn_down.weight"] == .q6_K } == [2, 5])
        #expect(types["token_embd.weight"] == .q6_K)
    }

    /// A user's rule wins, and like llama-quantize's `--tensor-type`, the tensor it claims is not counted.
    @Test func userRulesComeFirstAndAreNotCounted() throws {
        let types = try Self.types("q4_k_m", hidden: 256, intermediate: 512, layers: 6,
                                   rules: [(#"^blk\.0\.attn_v\.weight$"#, .q8_0), (#"^token_embd\.weight$"#, .q5_K)])
        #expect(types["blk.0.attn_v.weight"] == .q8_0)
        #expect(types["token_embd.weight"] == .q5_K)
        // Blocks 1…5 are attn_v number 0…4 of n = 6: i % 3 == 2 or i >= 5 → i = 2 → block 3.
        #expect((1..<6).filter { types["blk.\($0).attn_v.weight"] == .q6_K } == [3])
    }

    @Test func layerNumbersAreReadAsSscanfDoes() {
        #expect(LlamaFileType.layer("blk.12.attn_v.weight") == 12)
        #expect(LlamaFileType.layer("token_embd.weight") == -1)
        #expect(LlamaFileType.layer("blk.x.attn_v.weight") == -1)
        #expect(LlamaFileType.layer("blk.-3.a") == -3)
    }
}
