import ModelIR

/// Perceiver IO for masked language modelling over UTF-8 bytes (transformers' `modeling_perceiver.py`): byte and
/// position embeddings, a cross-attention into the latent array, latent self-attention blocks, and decoder
/// queries (one per position) cross-attending the latents, projected onto the byte embeddings.
enum Perceiver {
    /// One `PerceiverLayer` (transformers' `modeling_perceiver.py`): `queries` `[batch·M, qDim]` attend to `keys` `[batch·N, kvDim]` (the queries
    /// themselves for self-attention). Sizes come from the weights; every LayerNorm uses eps 1e-5.
    static func layer(_ w: Weights, _ p: String, queries x: [Float], M: Int, keys z: [Float]?, N: Int, batch: Int,
                      heads: Int, queryResidual: Bool, keyMask: [[Float]]?) throws -> [Float] {
        let eps = 1e-5
        let qDim = x.count / (batch * M)
        let ln1w = try w.floats(p + "attention.self.layernorm1.weight")
        guard ln1w.count == qDim else { throw VerifierError("\(p): layernorm1 does not match the query width \(qDim)") }
        var xn = x
        try Kernels.layerNorm(&xn, width: qDim, weight: ln1w, bias: try w.floats(p + "attention.self.layernorm1.bias"), eps: eps)
        var zn = xn
        var kvDim = qDim
        if let z {
            kvDim = z.count / (batch * N)
            zn = z
            try Kernels.layerNorm(&zn, width: kvDim, weight: try w.floats(p + "attention.self.layernorm2.weight"),
                              bias: try w.floats(p + "attention.self.layernorm2.bias"), eps: eps)
        }
        let qWeight = try w.floats(p + "attention.self.query.weight")
        let vWeight = try w.floats(p + "attention.self.value.weight")
        let qk = qWeight.count / qDim, v = vWeight.count / kvDim
        guard qk % heads == 0, v % heads == 0 else { throw VerifierError("\(p): \(qk)/\(v) channels do not split into \(heads) heads") }
        let q = try Kernels.linear(xn, rows: batch * M, weight: qWeight, bias: try w.floats(p + "attention.self.query.bias"), inFeatures: qDim, outFeatures: qk)
        let k = try Kernels.linear(zn, rows: batch * N, weight: try w.floats(p + "attention.self.key.weight", shape: [qk, kvDim]),
                               bias: try w.floats(p + "attention.self.key.bias"), inFeatures: kvDim, outFeatures: qk)
        let values = try Kernels.linear(zn, rows: batch * N, weight: vWeight, bias: try w.floats(p + "attention.self.value.bias"), inFeatures: kvDim, outFeatures: v)
        var context = [Float](repeating: 0, count: batch * M * v)
        var headMajor = context
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in values.withUnsafeBufferPointer { vp in
            context.withUnsafeMutableBufferPointer { cp in headMajor.withUnsafeMutableBufferPointer { hp in
                Kernels.attention(q: qp.baseAddress!, qStride: qk, k: kp.baseAddress!, kStride: qk, v: vp.baseAddress!, vStride: v,
                                  batch: batch, queries: M, keys: N, heads: heads, headSize: qk / heads, valueHeadSize: v / heads,
                                  scale: 1 / Float(qk / heads).squareRoot(), keyMasks: keyMask, bias: nil, headMajor: hp, into: cp)
            }}
        }}}
        var o = try Kernels.linear(context, rows: batch * M, weight: try w.floats(p + "attention.output.dense.weight", shape: [qDim, v]),
                               bias: try w.floats(p + "attention.output.dense.bias"), inFeatures: v, outFeatures: qDim)
        if queryResidual { for i in o.indices { o[i] += x[i] } }
        var h = o
        try Kernels.layerNorm(&h, width: qDim, weight: try w.floats(p + "layernorm.weight"), bias: try w.floats(p + "layernorm.bias"), eps: eps)
        let d1 = try w.floats(p + "mlp.dense1.weight")
        let wide = d1.count / qDim
        var up = try Kernels.linear(h, rows: batch * M, weight: d1, bias: try w.floats(p + "mlp.dense1.bias"), inFeatures: qDim, outFeatures: wide)
        try Kernels.activate(&up, "gelu")
        let down = try Kernels.linear(up, rows: batch * M, weight: try w.floats(p + "mlp.dense2.weight", shape: [qDim, wide]),
                                  bias: try w.floats(p + "mlp.dense2.bias"), inFeatures: wide, outFeatures: qDim)
        for i in o.indices { o[i] += down[i] }
        return o
    }

    static func forward(_ model: Model, inputs: EncoderInputs) throws -> ForwardOutput {
        let w = try Weights(model, anchor: "input_preprocessor.embeddings.weight")
        let config = model.config
        let B = inputs.batch, L = inputs.length
        guard let dModel = config["d_model"]?.intValue, let latentCount = config["num_latents"]?.intValue,
              let dLatents = config["d_latents"]?.intValue else {
            throw VerifierError("Perceiver config lacks d_model / num_latents / d_latents")
        }
        let crossHeads = config["num_cross_attention_heads"]?.intValue ?? 8
        let selfHeads = config["num_self_attention_heads"]?.intValue ?? 8
        let blocks = config["num_blocks"]?.intValue ?? 1
        let selfAttends = Set(model.tensors.compactMap { t -> Int? in
            guard let r = t.name.firstRange(of: "encoder.self_attends.") else { return nil }
            return Int(t.name[r.upperBound...].prefix { $0.isNumber })
        }).count

        // 1. Byte embeddings + positions (no LayerNorm).
        let embeddings = try w.floats("input_preprocessor.embeddings.weight")
        let positions = try w.floats("input_preprocessor.position_embeddings.weight")
        guard dModel > 0, embeddings.count % dModel == 0, positions.count % dModel == 0 else {
            throw VerifierError("Perceiver embedding tables do not have d_model \(dModel) columns")
        }
        let vocabulary = embeddings.count / dModel
        guard L <= positions.count / dModel else { throw VerifierError("input of \(L) bytes exceeds max_position_embeddings") }
        var x = [Float](repeating: 0, count: B * L * dModel)
        for b in 0..<B {
            for t in 0..<L {
                let id = inputs.inputIds[b][t]
                guard id >= 0, id < vocabulary else { throw VerifierError("input id \(id) is outside the vocabulary of \(vocabulary)") }
                for i in 0..<dModel { x[(b * L + t) * dModel + i] = embeddings[id * dModel + i] + positions[t * dModel + i] }
            }
        }
        // 2–3. Latents cross-attend the inputs (masked keys get float32 min).
        let latents = try w.floats("embeddings.latents", shape: [latentCount, dLatents])
        var z = [Float]()
        for _ in 0..<B { z += latents }
        let masks = inputs.attentionMask.map { $0.map { $0 == 0 ? -Float.greatestFiniteMagnitude : 0 } }
        z = try layer(w, "encoder.cross_attention.", queries: z, M: latentCount, keys: x, N: L, batch: B,
                      heads: crossHeads, queryResidual: config["use_query_residual"]?.boolValue ?? true, keyMask: masks)
        var states = [z]
        // 4. Latent self-attention, the same layers `num_blocks` times.
        for block in 0..<blocks {
            for n in 0..<selfAttends {
                if block > 0, n == 0 { states.append(z) }
                z = try layer(w, "encoder.self_attends.\(n).", queries: z, M: latentCount, keys: nil, N: latentCount, batch: B,
                              heads: selfHeads, queryResidual: true, keyMask: nil)
                states.append(z)
            }
        }
        // 5–7. Every decoder query cross-attends the latents; logits against the byte embeddings.
        var output = ForwardOutput(batch: B, length: latentCount, width: dLatents, hiddenStates: states, pooler: nil)
        if w.has("decoder.output_position_encodings.position_embeddings") {
            let queries = try w.floats("decoder.output_position_encodings.position_embeddings")
            let rows = queries.count / dModel
            var q = [Float]()
            for _ in 0..<B { q += queries }
            let decoded = try layer(w, "decoder.decoding_cross_attention.", queries: q, M: rows, keys: z, N: latentCount, batch: B,
                                    heads: 8, queryResidual: false, keyMask: nil)
            let bias = try model.tensors.first { $0.name == "embedding_decoder.bias" }.map { try Weights.floats(of: $0) }
            output.logits = try Kernels.linear(decoded, rows: B * rows, weight: embeddings, bias: bias, inFeatures: dModel, outFeatures: vocabulary)
            output.logitRows = rows
            output.logitWidth = vocabulary
        }
        return output
    }
}
