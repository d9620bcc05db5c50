import BinaryIO
import ModelIR
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Reference forward passes of the encoder architectures (transformers' `modeling_bert.py`, `modeling_roberta.py`, `modeling_albert.py`), in fp32,
/// from the IR of any format.
public enum Encoder {
    /// Runs `model` on `inputs`.
    public static func forward(_ model: Model, inputs: EncoderInputs) throws -> ForwardOutput {
        // The BLAS loads on another thread meanwhile (its first load is a dlopen of 2–18 ms of CPU measured here, by
        // load: OpenBLAS binds some 14 000 symbols). BERT computes its embeddings, which need no product, before it waits; the
        // other architectures wait at once.
        BLASLibrary.loadInBackground()
        switch model.config.architecture {
        case .bert, .structbert, .roberta: return try bert(model, inputs: inputs)
        case .unknown where model.tensors.contains(where: { $0.name.contains("encoder.layer.") }):
            return try bert(model, inputs: inputs)
        default:
            break
        }
        _ = try BLASLibrary.loaded()
        switch model.config.architecture {
        case .albert: return try albert(model, inputs: inputs)
        case .cocolm: return try COCOLM.forward(model, inputs: inputs)
        case .perceiver: return try Perceiver.forward(model, inputs: inputs)
        default:
            throw VerifierError("no forward pass for architecture '\(model.config.architecture.rawValue)' yet")
        }
    }

    struct Dimensions {
        var hidden: Int
        var heads: Int
        var intermediate: Int
        var layers: Int
        var eps: Double
        var activation: String
        var headSize: Int { hidden / heads }
    }

    /// The widest hidden or intermediate size a config may give (the verifier sizes buffers from it).
    static let maximumWidth = 1 << 20
    /// The most layers a config may give (ALBERT applies its shared group that many times).
    static let maximumLayers = 1024

    static func dimensions(_ config: ModelConfig, defaultEps: Double = 1e-12) throws -> Dimensions {
        guard let hidden = config.hiddenSize, let heads = config.numAttentionHeads,
              let intermediate = config.intermediateSize, let layers = config.numHiddenLayers else {
            throw VerifierError("config lacks hidden_size / num_attention_heads / intermediate_size / num_hidden_layers")
        }
        guard heads > 0, hidden % heads == 0 else {
            throw VerifierError("config hidden_size \(hidden) is not a multiple of num_attention_heads \(heads)")
        }
        for (key, value) in [("hidden_size", hidden), ("intermediate_size", intermediate)] {
            guard value > 0, value <= maximumWidth else { throw VerifierError("config \(key) \(value) is outside 1…\(maximumWidth)") }
        }
        guard layers >= 0, layers <= maximumLayers else {
            throw VerifierError("config num_hidden_layers \(layers) is outside 0…\(maximumLayers)")
        }
        return Dimensions(hidden: hidden, heads: heads, intermediate: intermediate, layers: layers,
                          eps: config.layerNormEps ?? defaultEps, activation: config.hiddenAct ?? "gelu")
    }

    /// Word + position + token-type embeddings, then LayerNorm: `[batch·length, width]`.
    static func embeddings(_ w: Weights, inputs: EncoderInputs, width: Int, eps: Double, roberta: Bool, padId: Int) throws -> [Float] {
        // Only the rows the inputs pick are decoded (a quantized vocabulary table is most of a small model).
        let picked = inputs.inputIds.flatMap { $0 }
        let (vocab, words) = try w.rows("embeddings.word_embeddings.weight", width: width, picking: picked)
        let positions = try w.floats("embeddings.position_embeddings.weight")
        let types = w.has("embeddings.token_type_embeddings.weight") ? try w.floats("embeddings.token_type_embeddings.weight") : nil
        guard width > 0, positions.count % width == 0, (types?.count ?? 0) % width == 0 else {
            throw VerifierError("embedding tables do not have the config's width \(width)")
        }
        let maxPositions = positions.count / width, typeCount = (types?.count ?? 0) / width
        if roberta {
            // RoBERTa's positions start after the padding id, so it must index the position table.
            guard padId >= 0, padId < maxPositions else {
                throw VerifierError("pad_token_id \(padId) is outside the \(maxPositions) position embeddings")
            }
        }
        var out = [Float](repeating: 0, count: inputs.batch * inputs.length * width)
        for b in 0..<inputs.batch {
            var running = 0
            for t in 0..<inputs.length {
                let id = inputs.inputIds[b][t]
                let position: Int
                if roberta {  // cumsum(ids ≠ pad) · (ids ≠ pad) + pad
                    if id != padId { running += 1 }
                    position = id != padId ? running + padId : padId
                } else {
                    position = t
                }
                let type = inputs.tokenTypeIds[b][t]
                guard id >= 0, id < vocab else { throw VerifierError("input id \(id) is outside the vocabulary of \(vocab)") }
                guard position < maxPositions else { throw VerifierError("position \(position) exceeds max_position_embeddings \(maxPositions)") }
                let row = (b * inputs.length + t) * width
                for i in 0..<width {
                    var v = words[row + i] + positions[position * width + i]
                    if let types {
                        guard type >= 0, type < typeCount else { throw VerifierError("token type \(type) is outside \(typeCount)") }
                        v += types[type * width + i]
                    }
                    out[row + i] = v
                }
            }
        }
        try Kernels.layerNorm(&out, width: width, weight: try w.floats("embeddings.LayerNorm.weight"),
                          bias: try w.floats("embeddings.LayerNorm.bias"), eps: eps)
        return out
    }

    /// The additive key mask per sequence (0 for real tokens, float32 min for padding, as transformers 5).
    static func keyMasks(_ inputs: EncoderInputs) -> [[Float]] {
        inputs.attentionMask.map { $0.map { $0 == 0 ? -Float.greatestFiniteMagnitude : 0 } }
    }

    /// The activations of one encoder layer, allocated once per forward pass and reused by every layer.
    ///
    /// One region for all of them, never zero-filled (every buffer is written before it is read), and on Linux
    /// advised for transparent huge pages: its first touch costs a fault per 2 MiB rather than per 4 KiB page
    /// (measured on MiniLM 8×128: zero-filling its 16 MB in 4 KiB pages kept one core busy for about 3 % of the pass
    /// while the other waited for the first product).
    ///
    /// The last pass's workspace is kept for the next pass of the same shape (`verify` runs two; a caller in a loop
    /// many), up to `keptBytes`, so that its pages are touched once rather than once a pass. `@unchecked Sendable`:
    /// one forward pass uses it at a time; `taken` hands it over under a lock.
    final class Workspace: @unchecked Sendable {
        let rows: Int
        let hidden: Int
        let intermediate: Int
        /// `[rows, 3·hidden]`: queries, keys and values side by side.
        let qkv: UnsafeMutableBufferPointer<Float>
        /// `[batch·heads, length, headSize]`: each head's context before concatenation.
        let headMajor: UnsafeMutableBufferPointer<Float>
        /// `[rows, hidden]`: the concatenated context, then the attention block's output.
        let context: UnsafeMutableBufferPointer<Float>
        let attended: UnsafeMutableBufferPointer<Float>
        /// `[rows, intermediate]`.
        let up: UnsafeMutableBufferPointer<Float>
        private let region: UnsafeMutableRawPointer

        /// The largest workspace kept between passes.
        static let keptBytes = 64 << 20
        private static let spare = Mutex<Workspace?>(nil)
        private let bytes: Int

        /// A workspace for `rows` rows of `d`: the kept one when it has that shape, else a new one.
        static func taken(rows: Int, _ d: Dimensions) -> Workspace {
            let kept = spare.withLock { spare -> Workspace? in
                guard let w = spare, w.rows == rows, w.hidden == d.hidden, w.intermediate == d.intermediate else { return nil }
                spare = nil
                return w
            }
            return kept ?? Workspace(rows: rows, d)
        }

        /// Keeps this workspace for the next pass (replacing any kept one) when it is small enough.
        func giveBack() {
            guard bytes <= Self.keptBytes else { return }
            Self.spare.withLock { $0 = self }
        }

        private init(rows: Int, _ d: Dimensions) {
            self.rows = rows
            hidden = d.hidden
            intermediate = d.intermediate
            let counts = [rows * 3 * d.hidden, rows * d.hidden, rows * d.hidden, rows * d.hidden, rows * d.intermediate]
            let hugePage = 2 << 20
            // Each buffer starts on a cache line; the region is a whole number of huge pages.
            let offsets = counts.reduce(into: [0]) { $0.append($0.last! + ($1 * MemoryLayout<Float>.size + 63) / 64 * 64) }
            let bytes = max((offsets.last! + hugePage - 1) / hugePage * hugePage, hugePage)
            self.bytes = bytes
            let region = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: hugePage)
            #if os(Linux)
            _ = madvise(region, bytes, Int32(MADV_HUGEPAGE))  // a hint: without THP it changes nothing
            #endif
            self.region = region
            let buffers = counts.indices.map {
                UnsafeMutableBufferPointer(start: (region + offsets[$0]).bindMemory(to: Float.self, capacity: counts[$0]), count: counts[$0])
            }
            (qkv, headMajor, context, attended, up) = (buffers[0], buffers[1], buffers[2], buffers[3], buffers[4])
        }

        deinit { region.deallocate() }
    }

    /// One post-LN encoder layer with the weights under `p` (BERT names, or ALBERT's with `albert` set):
    /// `x' = LN(x + O·attention(Q·x, K·x, V·x))`, `LN(x' + W₂·act(W₁·x'))`. Weights are read in place where their
    /// bytes allow; biases, activation, residuals and LayerNorms run on each block of rows right after its product.
    static func layer(_ x: [Float], _ w: Weights, _ p: String, _ d: Dimensions, _ inputs: EncoderInputs, masks: [[Float]], albert: Bool,
                      workspace ws: Workspace) throws -> [Float] {
        let rows = inputs.batch * inputs.length, H = d.hidden, I = d.intermediate
        precondition(ws.rows == rows && x.count == rows * H)
        let names = albert
            ? (q: p + "attention.query", k: p + "attention.key", v: p + "attention.value", o: p + "attention.dense",
               ln1: p + "attention.LayerNorm", up: p + "ffn", down: p + "ffn_output", ln2: p + "full_layer_layer_norm")
            : (q: p + "attention.self.query", k: p + "attention.self.key", v: p + "attention.self.value",
               o: p + "attention.output.dense", ln1: p + "attention.output.LayerNorm", up: p + "intermediate.dense",
               down: p + "output.dense", ln2: p + "output.LayerNorm")
        let eps = Float(d.eps)
        // Q, K, V: three products into one [rows, 3H] buffer, each block of rows doing all three.
        try w.withFloats([(names.q + ".weight", [H, H]), (names.k + ".weight", [H, H]), (names.v + ".weight", [H, H]),
                          (names.q + ".bias", [H]), (names.k + ".bias", [H]), (names.v + ".bias", [H])]) { t in
            x.withUnsafeBufferPointer { xp in
                if Kernels.splitsColumns(rows: rows, outFeatures: H), let out = ws.qkv.baseAddress {
                    for part in 0..<3 {
                        Kernels.productByColumns(xp.baseAddress!, rows: rows, inFeatures: H, weight: t[part].baseAddress!, outFeatures: H,
                                                 into: out + part * H, ldy: 3 * H)
                    }
                    for r in 0..<rows {
                        for part in 0..<3 { Vector.add(t[3 + part].baseAddress!, to: out + r * 3 * H + part * H, count: H) }
                    }
                    return
                }
                Parallel.fill(ws.qkv, rows: rows, minimumRows: Kernels.minimumRowsPerCore) { range, slice in
                    guard let out = slice.baseAddress, !range.isEmpty else { return }
                    for part in 0..<3 {
                        BLAS.sgemm(transposeB: true, m: range.count, n: H, k: H, alpha: 1, a: xp.baseAddress! + range.lowerBound * H, lda: H,
                                   b: t[part].baseAddress!, ldb: H, beta: 0, c: out + part * H, ldc: 3 * H)
                    }
                    for r in 0..<range.count {
                        for part in 0..<3 { Vector.add(t[3 + part].baseAddress!, to: out + r * 3 * H + part * H, count: H) }
                    }
                }
            }
        }
        let qkv = UnsafePointer(ws.qkv.baseAddress!)
        Kernels.attention(q: qkv, qStride: 3 * H, k: qkv + H, kStride: 3 * H, v: qkv + 2 * H, vStride: 3 * H, batch: inputs.batch,
                          queries: inputs.length, keys: inputs.length, heads: d.heads, headSize: d.headSize, valueHeadSize: d.headSize,
                          scale: 1 / Float(d.headSize).squareRoot(), keyMasks: masks, bias: nil, headMajor: ws.headMajor, into: ws.context)
        // LN(x + context·Oᵀ + b)
        try w.withFloats([(names.o + ".weight", [H, H]), (names.o + ".bias", [H]), (names.ln1 + ".weight", [H]), (names.ln1 + ".bias", [H])]) { t in
            x.withUnsafeBufferPointer { xp in
                Kernels.linear(ws.context.baseAddress!, rows: rows, inFeatures: H, weight: t[0].baseAddress!, outFeatures: H, into: ws.attended,
                               epilogue: .biasResidualNorm(bias: t[1].baseAddress!, residual: xp.baseAddress!, weight: t[2].baseAddress!,
                                                           shift: t[3].baseAddress!, eps: eps))
            }
        }
        // act(attended·W₁ᵀ + b₁)
        let activation = try Kernels.Activation(name: d.activation)
        try w.withFloats([(names.up + ".weight", [I, H]), (names.up + ".bias", [I])]) { t in
            Kernels.linear(ws.attended.baseAddress!, rows: rows, inFeatures: H, weight: t[0].baseAddress!, outFeatures: I, into: ws.up,
                           epilogue: .biasActivation(t[1].baseAddress!, activation))
        }
        // LN(attended + up·W₂ᵀ + b₂), into the array this layer returns (it is kept as a hidden state).
        return try w.withFloats([(names.down + ".weight", [H, I]), (names.down + ".bias", [H]), (names.ln2 + ".weight", [H]),
                                 (names.ln2 + ".bias", [H])]) { t in
            [Float](unsafeUninitializedCapacity: rows * H) { out, initialized in
                Kernels.linear(ws.up.baseAddress!, rows: rows, inFeatures: I, weight: t[0].baseAddress!, outFeatures: H, into: out,
                               epilogue: .biasResidualNorm(bias: t[1].baseAddress!, residual: ws.attended.baseAddress!, weight: t[2].baseAddress!,
                                                           shift: t[3].baseAddress!, eps: eps))
                initialized = rows * H
            }
        }
    }

    /// `tanh(dense(h[:, 0]))` when the pooler weights are present.
    static func pooler(_ last: [Float], _ w: Weights, name: String, batch: Int, length: Int, width: Int) throws -> [Float]? {
        guard w.has(name + ".weight") else { return nil }
        var firsts: [Float] = []
        for b in 0..<batch { firsts += last[(b * length * width)..<((b * length + 1) * width)] }
        var pooled = try Kernels.linear(firsts, rows: batch, weight: try w.floats(name + ".weight", shape: [width, width]),
                                    bias: try w.floats(name + ".bias"), inFeatures: width, outFeatures: width)
        try Kernels.activate(&pooled, "tanh")
        return pooled
    }

    /// BERT / StructBERT / hfl RoBERTa-wwm / RBT3 (`BertModel`), and true RoBERTa (positions after padding_idx).
    static func bert(_ model: Model, inputs: EncoderInputs) throws -> ForwardOutput {
        let w = try Weights(model, anchor: "embeddings.word_embeddings.weight")
        let roberta = model.config.architecture == .roberta
        var d = try dimensions(model.config, defaultEps: roberta ? 1e-5 : 1e-12)
        let present = Set(model.tensors.compactMap { LayerName.index(in: $0.name) })
        if present.count != d.layers { d.layers = present.count }
        let padId = model.config.padTokenId ?? (roberta ? 1 : 0)
        var x = try embeddings(w, inputs: inputs, width: d.hidden, eps: d.eps, roberta: roberta, padId: padId)
        _ = try BLASLibrary.loaded()  // waits for `forward`'s background load
        var states = [x]
        let masks = keyMasks(inputs)
        let workspace = Workspace.taken(rows: inputs.batch * inputs.length, d)
        for i in 0..<d.layers {
            x = try layer(x, w, "encoder.layer.\(i).", d, inputs, masks: masks, albert: false, workspace: workspace)
            states.append(x)
        }
        workspace.giveBack()
        let pooled = try pooler(x, w, name: "pooler.dense", batch: inputs.batch, length: inputs.length, width: d.hidden)
        var output = ForwardOutput(batch: inputs.batch, length: inputs.length, width: d.hidden, hiddenStates: states, pooler: pooled,
                                   rowMask: inputs.attentionMask)
        try Heads.run(model, encoder: w, output: &output, inputs: inputs, albert: false)
        return output
    }

    /// ALBERT: factorized embeddings projected to the hidden width, one shared layer group applied N times.
    static func albert(_ model: Model, inputs: EncoderInputs) throws -> ForwardOutput {
        let w = try Weights(model, anchor: "embeddings.word_embeddings.weight")
        let d = try dimensions(model.config)
        guard let embedding = model.config.embeddingSize else { throw VerifierError("ALBERT config lacks embedding_size") }
        let groups = model.config["num_hidden_groups"]?.intValue ?? 1
        let inner = model.config["inner_group_num"]?.intValue ?? 1
        guard groups >= 1, groups <= max(d.layers, 1) else {
            throw VerifierError("ALBERT num_hidden_groups \(groups) is outside 1…\(max(d.layers, 1))")
        }
        guard inner >= 1, inner <= 64 else { throw VerifierError("ALBERT inner_group_num \(inner) is outside 1…64") }
        let e = try embeddings(w, inputs: inputs, width: embedding, eps: d.eps, roberta: false, padId: 0)
        var x = try Kernels.linear(e, rows: inputs.batch * inputs.length,
                               weight: try w.floats("encoder.embedding_hidden_mapping_in.weight", shape: [d.hidden, embedding]),
                               bias: try w.floats("encoder.embedding_hidden_mapping_in.bias"), inFeatures: embedding, outFeatures: d.hidden)
        var states = [x]
        let masks = keyMasks(inputs)
        let workspace = Workspace.taken(rows: inputs.batch * inputs.length, d)
        for i in 0..<d.layers {
            let group = Int(Double(i) / (Double(d.layers) / Double(groups)))
            for k in 0..<inner {
                x = try layer(x, w, "encoder.albert_layer_groups.\(group).albert_layers.\(k).", d, inputs, masks: masks, albert: true, workspace: workspace)
            }
            states.append(x)
        }
        workspace.giveBack()
        let pooled = try pooler(x, w, name: "pooler", batch: inputs.batch, length: inputs.length, width: d.hidden)
        var output = ForwardOutput(batch: inputs.batch, length: inputs.length, width: d.hidden, hiddenStates: states, pooler: pooled,
                                   rowMask: inputs.attentionMask)
        try Heads.run(model, encoder: w, output: &output, inputs: inputs, albert: true)
        return output
    }
}
