#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ModelIR

/// COCO-LM (microsoft/COCO-LM's `cocolm/modeling_cocolm.py`): a post-LN BERT with a fused QKV projection, padded rows zeroed
/// after the embeddings, and a bucketed relative-position bias shared by all layers.
enum COCOLM {
    /// The magnitude bucket `m(n)` of COCO-LM's `relative_position_bucket` in that file (a ceiling where T5's truncates).
    static func magnitude(_ n: Int, bins: Int, maxDistance: Int) -> Int {
        let half = bins / 2, exact = half / 2, mbv = half - 1 - exact
        if n < exact { return n }
        let ratio = log(Double(n) / Double(exact)) / log(Double(maxDistance - 1) / Double(exact))
        return min(exact + Int((ratio * Double(mbv)).rounded(.up)), half - 1)
    }

    /// `bucket[i, j] = sign(j − i)·m(|j − i|) + m(P − 1)` for an `L×L` input.
    static func buckets(length: Int, bins: Int, maxDistance: Int, positions: Int) -> [Int] {
        let offset = magnitude(positions - 1, bins: bins, maxDistance: maxDistance)
        var table = [Int](repeating: 0, count: length * length)
        for i in 0..<length {
            for j in 0..<length {
                let r = j - i
                table[i * length + j] = r.signum() * magnitude(abs(r), bins: bins, maxDistance: maxDistance) + offset
            }
        }
        return table
    }

    static func forward(_ model: Model, inputs: EncoderInputs) throws -> ForwardOutput {
        let config = model.config
        guard config["layer_norm_type"]?.stringValue ?? "post" == "post" else {
            throw VerifierError("COCO-LM layer_norm_type '\(config["layer_norm_type"]?.stringValue ?? "")' is not supported (only post)")
        }
        let w = try Weights(model, anchor: "embeddings.word_embeddings.weight")
        var d = try Encoder.dimensions(config, defaultEps: 1e-5)
        d.layers = Set(model.tensors.compactMap { LayerName.index(in: $0.name) }).count
        let H = d.hidden, L = inputs.length, B = inputs.batch, rows = B * L
        guard let bins = config["rel_pos_bins"]?.intValue, let maxDistance = config["max_rel_pos"]?.intValue,
              let positions = config.maxPositionEmbeddings, L <= positions else {
            throw VerifierError("COCO-LM config lacks rel_pos_bins / max_rel_pos / max_position_embeddings, or the input is too long")
        }

        // 1. Embeddings (no token types in the released models), LayerNorm, padded rows zeroed.
        let words = try w.floats("embeddings.word_embeddings.weight")
        let table = try w.floats("embeddings.position_embeddings.weight")
        let types = (config.typeVocabSize ?? 0) > 0 && w.has("embeddings.token_type_embeddings.weight")
            ? try w.floats("embeddings.token_type_embeddings.weight") : nil
        guard H > 0, words.count % H == 0, table.count % H == 0 else {
            throw VerifierError("embedding tables do not have the config's width \(H)")
        }
        guard L <= table.count / H else { throw VerifierError("input of \(L) tokens exceeds the \(table.count / H)-row position table") }
        var x = [Float](repeating: 0, count: rows * H)
        for b in 0..<B {
            for t in 0..<L {
                let id = inputs.inputIds[b][t]
                guard id >= 0, id < words.count / H else { throw VerifierError("input id \(id) is outside the vocabulary") }
                for i in 0..<H {
                    var v = words[id * H + i] + table[t * H + i]
                    if let types {
                        let type = inputs.tokenTypeIds[b][t]
                        guard type >= 0, type < types.count / H else { throw VerifierError("token type \(type) is outside the table") }
                        v += types[type * H + i]
                    }
                    x[(b * L + t) * H + i] = v
                }
            }
        }
        try Kernels.layerNorm(&x, width: H, weight: try w.floats("embeddings.LayerNorm.weight"), bias: try w.floats("embeddings.LayerNorm.bias"), eps: d.eps)
        for b in 0..<B { for t in 0..<L where inputs.attentionMask[b][t] == 0 { for i in 0..<H { x[(b * L + t) * H + i] = 0 } } }
        var states = [x]

        // 2. The relative bias [heads, L, L], shared by every layer.
        let relative = try w.floats("relative_attention_bias.weight", shape: [bins, d.heads])
        let bucket = buckets(length: L, bins: bins, maxDistance: maxDistance, positions: positions)
        var bias = [Float](repeating: 0, count: d.heads * L * L)
        for h in 0..<d.heads { for ij in 0..<(L * L) { bias[h * L * L + ij] = relative[bucket[ij] * d.heads + h] } }
        let masks = inputs.attentionMask.map { $0.map { $0 == 0 ? -Float.infinity : 0 } }

        // 3. Layers.
        for n in 0..<d.layers {
            let p = "encoder.layer.\(n)."
            let qkv = try Kernels.linear(x, rows: rows, weight: try w.floats(p + "attention.self_attn.in_proj.weight", shape: [3 * H, H]),
                                     bias: try w.floats(p + "attention.self_attn.in_proj.bias"), inFeatures: H, outFeatures: 3 * H)
            var context = [Float](repeating: 0, count: rows * H)
            var headMajor = context
            qkv.withUnsafeBufferPointer { qp in bias.withUnsafeBufferPointer { bp in
                context.withUnsafeMutableBufferPointer { cp in headMajor.withUnsafeMutableBufferPointer { hp in
                    let base = qp.baseAddress!
                    Kernels.attention(q: base, qStride: 3 * H, k: base + H, kStride: 3 * H, v: base + 2 * H, vStride: 3 * H, batch: B,
                                      queries: L, keys: L, heads: d.heads, headSize: d.headSize, valueHeadSize: d.headSize,
                                      scale: 1 / Float(d.headSize).squareRoot(), keyMasks: masks, bias: bp.baseAddress!,
                                      headMajor: hp, into: cp)
                }}
            }}
            // A sequence with no real token has every key masked with −inf: PyTorch's softmax gives NaN rows there,
            // which COCO-LM zeroes after the output projection.
            let dead = masks.map { mask in mask.allSatisfy { $0 == -.infinity } }
            var a = try Kernels.linear(context, rows: rows, weight: try w.floats(p + "attention.self_attn.out_proj.weight", shape: [H, H]),
                                   bias: try w.floats(p + "attention.self_attn.out_proj.bias"), inFeatures: H, outFeatures: H)
            for b in 0..<B where dead[b] { for i in (b * L * H)..<((b + 1) * L * H) { a[i] = 0 } }  // NaN rows → 0
            for i in a.indices { a[i] += x[i] }
            try Kernels.layerNorm(&a, width: H, weight: try w.floats(p + "attention.LayerNorm.weight"), bias: try w.floats(p + "attention.LayerNorm.bias"), eps: d.eps)
            var up = try Kernels.linear(a, rows: rows, weight: try w.floats(p + "intermediate.dense.weight", shape: [d.intermediate, H]),
                                    bias: try w.floats(p + "intermediate.dense.bias"), inFeatures: H, outFeatures: d.intermediate)
            try Kernels.activate(&up, d.activation)
            var out = try Kernels.linear(up, rows: rows, weight: try w.floats(p + "output.dense.weight", shape: [H, d.intermediate]),
                                     bias: try w.floats(p + "output.dense.bias"), inFeatures: d.intermediate, outFeatures: H)
            for i in out.indices { out[i] += a[i] }
            try Kernels.layerNorm(&out, width: H, weight: try w.floats(p + "output.LayerNorm.weight"), bias: try w.floats(p + "output.LayerNorm.bias"), eps: d.eps)
            x = out
            states.append(x)
        }
        return ForwardOutput(batch: B, length: L, width: H, hiddenStates: states, pooler: nil, rowMask: inputs.attentionMask)
    }
}
