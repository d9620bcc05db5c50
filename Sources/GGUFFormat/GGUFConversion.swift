import BinaryIO
import Transforms
import ModelIR
import Quantization

/// What a GGUF output holds for a model.
struct GGUFExport: Sendable {
    /// The tensors as stored: llama.cpp's names, cast or quantized lazily.
    var tensors: [Tensor]
    var metadata: [(key: String, value: GGUFValue)]
    var dropped: [DroppedTensor]
    var notes: [Note]
    /// For each stored tensor, the source tensor it holds (under the source's name, before any cast).
    var sources: [Tensor]
}

/// Models to and from GGUF: llama.cpp's BERT layout for the BERT family (llama.cpp's `convert_hf_to_gguf.py` and `src/llama-model.cpp`), and
/// every tensor under shortened Hugging Face names for architectures llama.cpp does not run.
enum GGUFConversion {
    /// HF BERT names (without `bert.`) ↔ llama.cpp names. Layer tensors: `encoder.layer.N.` ↔ `blk.N.` plus a
    /// suffix pair.
    static let bertTensors: [(hf: String, gguf: String)] = [
        ("embeddings.word_embeddings.weight", "token_embd.weight"),
        ("embeddings.token_type_embeddings.weight", "token_types.weight"),
        ("embeddings.position_embeddings.weight", "position_embd.weight"),
        ("embeddings.LayerNorm.weight", "token_embd_norm.weight"),
        ("embeddings.LayerNorm.bias", "token_embd_norm.bias"),
    ]
    static let bertLayerSuffixes: [(hf: String, gguf: String)] = [
        ("attention.self.query.", "attn_q."), ("attention.self.key.", "attn_k."), ("attention.self.value.", "attn_v."),
        ("attention.output.dense.", "attn_output."), ("attention.output.LayerNorm.", "attn_output_norm."),
        ("intermediate.dense.", "ffn_up."), ("output.dense.", "ffn_down."), ("output.LayerNorm.", "layer_output_norm."),
    ]
    /// Reversible shortenings of whole name segments that keep other architectures' names within GGUF's
    /// 63 bytes (`encoder.albert_layer_groups.0.albert_layers.0.attention.LayerNorm.weight` →
    /// `encoder.alg.0.al.0.att.LayerNorm.weight`).
    static let abbreviations: [(long: String, short: String)] = [
        ("perceiver", "p"), ("decoding_cross_attention", "dca"), ("cross_attention", "eca"), ("self_attends", "sa"),
        ("albert_layer_groups", "alg"), ("albert_layers", "al"), ("attention", "att"),
        ("output_position_encodings", "opos"), ("input_preprocessor", "inp"),
    ]

    static func bertName(_ hf: String) -> String? {
        if let pair = bertTensors.first(where: { $0.hf == hf }) { return pair.gguf }
        guard let layer = LayerName.index(in: hf), hf.hasPrefix("encoder.layer.") else { return nil }
        let rest = String(hf.dropFirst("encoder.layer.\(layer).".count))
        guard let pair = bertLayerSuffixes.first(where: { rest.hasPrefix($0.hf) }) else { return nil }
        return "blk.\(layer)." + pair.gguf + rest.dropFirst(pair.hf.count)
    }

    static func hfName(fromBERT gguf: String) -> String {
        if let pair = bertTensors.first(where: { $0.gguf == gguf }) { return pair.hf }
        guard gguf.hasPrefix("blk.") else { return gguf }
        let parts = gguf.dropFirst(4)
        let digits = parts.prefix { $0.isNumber }
        let rest = String(parts.dropFirst(digits.count + 1))
        guard let pair = bertLayerSuffixes.first(where: { rest.hasPrefix($0.gguf) }) else { return gguf }
        return "encoder.layer.\(digits)." + pair.hf + rest.dropFirst(pair.gguf.count)
    }

    static func shortened(_ name: String) -> String {
        name.split(separator: ".", omittingEmptySubsequences: false).map { segment in
            abbreviations.first { $0.long == segment }?.short ?? String(segment)
        }.joined(separator: ".")
    }

    static func expanded(_ name: String) -> String {
        name.split(separator: ".", omittingEmptySubsequences: false).map { segment in
            abbreviations.first { $0.short == segment }?.long ?? String(segment)
        }.joined(separator: ".")
    }

    /// Whether convert_hf_to_gguf keeps a tensor in F32 whatever the file type: vectors, norms, position and
    /// token-type tables, anything not named `.weight`; and the classifier head (`cls`, `cls.output`), which quantizing
    /// would move more than any encoder weight.
    static func staysF32(_ tensor: Tensor) -> Bool {
        let name = tensor.name
        return tensor.shape.rank <= 1 || name.hasPrefix("cls.") || TensorNames.isNorm(name)
            || name.hasPrefix("position_embd") || name.hasPrefix("token_types") || !name.hasSuffix(".weight")
    }

    /// What a GGUF output holds for `model`: its tensors under llama.cpp's names, typed as `types` and `rules`
    /// say, and the metadata.
    static func export(_ model: Model, types: GGUFTypes, rules: [TypeRule], keepHeads: Bool) throws -> GGUFExport {
        let main: GGUFType
        var policy = TypePolicy(rules: rules)
        switch types {
        case .uniform(let type):
            main = type
        case .preset(let preset):
            let (presetType, presetPolicy) = preset.policy(layers: model.layerCount ?? 1)
            main = presetType
            policy.rules += presetPolicy.rules
            policy.llamaMix = presetPolicy.llamaMix
        }
        let target = main.dtype
        let config = model.config
        let isBERT = [.bert, .structbert].contains(config.architecture)
        let task = model.task
        // llama.cpp's BERT reranker: rank pooling reads the pooler as `cls` and the classifier as `cls.output`.
        let ranks = isBERT && (task.head == .sequenceClassification || task.head == .reranker)
        var dropped: [DroppedTensor] = []
        var notes: [Note] = []
        var named: [Tensor] = []
        for var tensor in model.tensors {
            var name = tensor.name
            name = TensorNames.splitModelPrefix(name).rest
            if name.hasSuffix("position_ids") {
                dropped.append(DroppedTensor(name: tensor.name, kind: .buffer, reason: "position_ids buffer", byteCount: tensor.info.byteCount ?? 0))
                continue
            }
            if isBERT {
                // Any tensor llama.cpp's BERT graph does not create would make it refuse the file ("wrong number of tensors").
                guard let mapped = bertName(name) ?? (ranks ? rankTensors.first { $0.hf == name }?.gguf : nil) else {
                    dropped.append(DroppedTensor(name: tensor.name, kind: .notInOutput, reason: "llama.cpp's BERT graph has no such tensor",
                                                 byteCount: tensor.info.byteCount ?? 0))
                    continue
                }
                tensor.name = mapped
            } else {
                if TensorNames.isPoolerOrPreTrainingHead(name), !keepHeads {
                    dropped.append(DroppedTensor(name: tensor.name, kind: .head, reason: "head (kept on request)", byteCount: tensor.info.byteCount ?? 0))
                    continue
                }
                tensor.name = shortened(tensor.name)
            }
            named.append(tensor)
        }
        if isBERT {
            switch task.head {
            case .sequenceClassification, .reranker:
                notes.append(Note(.outputLimitation, "\(task.head.description) written for llama.cpp's rank pooling (pooler → cls, classifier → cls.output, "
                    + "\(task.labels.count) output\(task.labels.count == 1 ? "" : "s")); llama.cpp gives every token type 0, so pairs score as one segment"))
            case .tokenClassification, .questionAnswering, .maskedLM, .preTraining:
                notes.append(Note(.outputLimitation, "llama.cpp's BERT graph runs no \(task.head.description) head: the GGUF holds the encoder only"))
            case .sentenceEmbedding:
                if let pipeline = model.pipeline {
                    if !pipeline.dense.isEmpty {
                        notes.append(Note(.outputLimitation, "GGUF cannot hold the sentence-transformers Dense module\(pipeline.dense.count == 1 ? "" : "s"): llama.cpp's embedding stops at pooling"))
                    }
                    if pipeline.pooling == .max { notes.append(Note(.outputLimitation, "llama.cpp has no max pooling: the GGUF states none")) }
                }
            case .encoder:
                break
            }
            if keepHeads { notes.append(Note(.outputLimitation, "keeping heads does not apply to llama.cpp's BERT layout, which loads no other tensors")) }
        }
        let blocks = Set(named.compactMap { t -> Int? in
            guard t.name.hasPrefix("blk.") else { return nil }
            return Int(t.name.dropFirst(4).prefix { $0.isNumber })
        }).count
        let mixed: [DType?]? = policy.llamaMix?.types(for: named.map { tensor in
            LlamaFileType.TensorShape(name: tensor.name, rowLength: tensor.shape.dimensions.last ?? 0,
                                      quantizable: tensor.dtype.isFloatingPoint && !tensor.dtype.isQuantized && !staysF32(tensor))
        }, blocks: blocks, manual: { policy.type(for: $0) != nil })
        var fallbacks: [DType: Int] = [:]
        let tensors: [Tensor] = try named.indices.map { index in
            let tensor = named[index]
            guard tensor.dtype.isFloatingPoint, !tensor.dtype.isQuantized else { return tensor }
            var type = policy.type(for: tensor.name) ?? mixed?[index] ?? (staysF32(tensor) ? DType.f32 : target)
            let row = tensor.shape.dimensions.last ?? 0
            if type.isQuantized, row % type.blockSize != 0 {
                type = fallback(for: type, row: row)
                fallbacks[type, default: 0] += 1
            }
            return try cast(tensor, to: type)
        }
        for (type, count) in fallbacks.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            notes.append(Note(.info, "\(count) tensors with rows too short for the block type written as \(type.rawValue.uppercased()) (as llama-quantize does)"))
        }

        var metadata: [(key: String, value: GGUFValue)] = []
        let arch = isBERT ? "bert" : config.architecture.rawValue
        metadata.append(("general.architecture", .string(arch)))
        metadata.append(("general.type", .string("model")))
        if let name = model.metadata["name"] { metadata.append(("general.name", .string(name))) }
        if isBERT {
            func u32(_ key: String, _ value: Int?) throws {
                guard let value, let v = UInt32(exactly: value) else { throw ModelError("config lacks \(key) for the GGUF bert keys") }
                metadata.append((key, .u32(v)))
            }
            try u32("bert.block_count", blocks)
            let positions = tensors.first { $0.name == "position_embd.weight" }?.shape.dimensions.first
            try u32("bert.context_length", positions ?? config.maxPositionEmbeddings)
            try u32("bert.embedding_length", config.hiddenSize)
            try u32("bert.feed_forward_length", config.intermediateSize)
            try u32("bert.attention.head_count", config.numAttentionHeads)
            metadata.append(("bert.attention.layer_norm_epsilon", .f32(Float(config.layerNormEps ?? 1e-12))))
            metadata.append(("bert.attention.causal", .bool(false)))
            if ranks {
                metadata.append(("bert.pooling_type", .u32(4)))  // LLAMA_POOLING_TYPE_RANK
                metadata.append(("bert.classifier.output_labels", .array(elementType: GGUFValue.stringTypeID, task.labels.map(GGUFValue.string))))
            } else if let pooling = poolingType(model) {
                metadata.append(("bert.pooling_type", .u32(pooling)))
            }
        }
        // A preset of llama-quantize's names its own mix.
        metadata.append(("general.file_type", .u32(policy.llamaMix?.fileType ?? main.fileType)))
        metadata.append(("general.quantization_version", .u32(2)))
        if let vocab = model.auxiliaryFiles.first(where: { $0.name == "vocab.txt" }) {
            metadata += try tokenizerMetadata(vocab, typeVocabSize: tensors.first { $0.name == "token_types.weight" }?.shape.dimensions.first
                                                ?? config.typeVocabSize ?? 2,
                                              embeddingRows: tensors.first { $0.name == "token_embd.weight" }?.shape.dimensions.first)
        } else if isBERT {
            notes.append(Note(.outputLimitation, "no vocab.txt: the GGUF has no tokenizer, so llama.cpp can only run it on token ids"))
        }
        metadata.append(("modelport.hf_config", .string(config.huggingFaceText(weightsDType: nil))))
        return GGUFExport(tensors: tensors, metadata: metadata, dropped: dropped, notes: notes, sources: named)
    }

    /// llama-quantize's substitute when a row is not a whole number of blocks: K-quants step down to the 32-value
    /// type of about the same size, and anything still misfitting becomes F16.
    static func fallback(for type: DType, row: Int) -> DType {
        let substitute: DType = [.q4_K: .q5_0, .q5_K: .q5_1, .q6_K: .q8_0][type] ?? .f16
        return row % substitute.blockSize == 0 ? substitute : .f16
    }

    static func cast(_ tensor: Tensor, to type: DType) throws -> Tensor {
        guard tensor.dtype != type else { return tensor }
        let source = tensor
        let name = tensor.name
        if type.isQuantized, source.dtype == .f32, let count = source.info.elementCount, count % type.blockSize == 0,
           let outputBytes = type.byteCount(elements: count) {
            // f32 quantized 8 MB of source at a time (whole blocks), each piece's pages released once it is done, so
            // the source never sits in memory whole.
            let piece = (8 << 20) / (type.blockSize * 4) * (type.blockSize * 4)
            return Tensor(name: tensor.name, dtype: type, shape: tensor.shape, data: .producer {
                let output = TensorBuffer(count: outputBytes)
                try source.withPieces(of: piece) { offset, bytes in
                    let first = offset / 4
                    guard bytes.count % (type.blockSize * 4) == 0, let at = type.byteCount(elements: first) else {
                        throw ModelError(location: .tensor(name), "is not a whole number of \(type.rawValue.uppercased()) blocks")
                    }
                    let quantized: TensorBuffer
                    do {
                        quantized = try BlockQuantizer.quantize(bytes, to: type)
                    } catch let bad as NonFiniteValue {
                        throw NonFiniteValue(index: first + bad.index, kind: bad.kind).error(tensor: name, target: type.rawValue.uppercased())
                    }
                    try quantized.withBytes { q in
                        guard at + q.count <= outputBytes else { throw ModelError(location: .tensor(name), "quantized size overflows") }
                        output.withMutableBytes { $0.baseAddress!.advanced(by: at).copyMemory(from: q.baseAddress!, byteCount: q.count) }
                    }
                }
                return output
            })
        }
        return Tensor(name: tensor.name, dtype: type, shape: tensor.shape, data: .producer {
            try source.withBytes { bytes in
                guard type.isQuantized else { return FloatCast.convert(bytes, from: source.dtype, to: type) }
                do {
                    if source.dtype == .f32 { return try BlockQuantizer.quantize(bytes, to: type) }
                    return try FloatCast.convert(bytes, from: source.dtype, to: .f32).withBytes { try BlockQuantizer.quantize($0, to: type) }
                } catch let bad as NonFiniteValue {
                    throw bad.error(tensor: name, target: type.rawValue.uppercased())
                }
            }
        })
    }

    /// The pooler and classifier of a sequence classifier under llama.cpp's names (`LLM_TENSOR_CLS`, `LLM_TENSOR_CLS_OUT`).
    static let rankTensors: [(hf: String, gguf: String)] = [
        ("pooler.dense.weight", "cls.weight"), ("pooler.dense.bias", "cls.bias"),
        ("classifier.weight", "cls.output.weight"), ("classifier.bias", "cls.output.bias"),
    ]

    /// sentence-transformers' pooling as llama.cpp's `pooling_type`: NONE 0, MEAN 1, CLS 2, LAST 3 (max has none).
    static func poolingType(_ model: Model) -> UInt32? {
        guard let pooling = model.pipeline?.pooling else { return nil }
        switch pooling {
        case .mean: return 1
        case .cls: return 2
        case .lastToken: return 3
        case .max: return 0
        }
    }

    /// The WordPiece vocabulary in llama.cpp's phantom-space form, token types and special ids.
    static func tokenizerMetadata(_ vocab: AuxiliaryFile, typeVocabSize: Int, embeddingRows: Int? = nil) throws -> [(key: String, value: GGUFValue)] {
        let bytes = try vocab.contents ?? MappedFile.contents(of: vocab.sourcePath)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ModelError(file: vocab.sourcePath.isEmpty ? vocab.name : vocab.sourcePath, "is not UTF-8 text")
        }
        var tokens = text.textLines()
        if tokens.last == "" { tokens.removeLast() }
        // llama.cpp looks up token i in row i of token_embd. More tokens than rows would index past the table; fewer
        // (an embedding padded to a round size) get `[PAD<i>]` tokens of type UNUSED, as llama.cpp's converter pads.
        var padded = 0
        if let rows = embeddingRows {
            guard tokens.count <= rows, !tokens.isEmpty else {
                throw ModelError(file: vocab.sourcePath.isEmpty ? vocab.name : vocab.sourcePath,
                                 "has \(tokens.count) tokens, but token_embd has \(rows) rows; the GGUF tokenizer needs one token per row")
            }
            padded = rows - tokens.count
            tokens += (tokens.count..<rows).map { "[PAD\($0)]" }
        }
        let firstPad = tokens.count - padded
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        var out: [(key: String, value: GGUFValue)] = [("tokenizer.ggml.model", .string("bert"))]
        out.append(("tokenizer.ggml.tokens", .array(elementType: GGUFValue.stringTypeID, tokens.map { token in
            if token.hasPrefix("["), token.hasSuffix("]") { return .string(token) }
            if token.hasPrefix("##") { return .string(String(token.dropFirst(2))) }
            return .string("\u{2581}" + token)
        })))
        out.append(("tokenizer.ggml.token_type", .array(elementType: GGUFValue.i32TypeID, tokens.enumerated().map { i, token in
            i >= firstPad ? .i32(5) : token == "[UNK]" ? .i32(2) : specials.contains(token) ? .i32(3) : .i32(1)
        })))
        guard let typeCount = UInt32(exactly: typeVocabSize) else {
            throw ModelError(location: .key("type_vocab_size"), "\(typeVocabSize) does not fit GGUF's u32 token_type_count")
        }
        out.append(("tokenizer.ggml.token_type_count", .u32(typeCount)))
        func id(_ token: String) -> GGUFValue? { tokens.firstIndex(of: token).map { .u32(UInt32($0)) } }
        for (key, token) in [("tokenizer.ggml.bos_token_id", "[CLS]"), ("tokenizer.ggml.eos_token_id", "[SEP]"),
                             ("tokenizer.ggml.unknown_token_id", "[UNK]"), ("tokenizer.ggml.seperator_token_id", "[SEP]"),
                             ("tokenizer.ggml.padding_token_id", "[PAD]"), ("tokenizer.ggml.mask_token_id", "[MASK]")] {
            if let value = id(token) { out.append((key, value)) }
        }
        return out
    }

    /// Reads a GGUF file into the IR: llama.cpp BERT names back to Hugging Face ones, the config from the
    /// stored `config.json` (or the `bert.*` keys), the vocabulary back to `vocab.txt`.
    static func load(_ path: String) throws -> Model {
        let contents = try GGUFReader.read(path: path)
        let arch = contents.value("general.architecture")?.stringValue ?? "unknown"
        var model = Model(tensors: contents.tensors, sourceFormat: "GGUF (\(arch))")
        for (key, value) in contents.metadata where key.hasPrefix("general.") && value.stringValue != nil {
            model.metadata[key] = value.stringValue
        }
        if let text = contents.value("modelport.hf_config")?.stringValue {
            model.config = try ModelConfig(huggingFaceJSON: try JSON.parse(Array(text.utf8), path: path), file: path)
        }
        if arch == "bert" {
            for i in model.tensors.indices {
                let name = model.tensors[i].name
                model.tensors[i].name = rankTensors.first { $0.gguf == name }?.hf ?? hfName(fromBERT: name)
            }
            var config = model.config
            if config.architecture == .unknown { config.architecture = .bert }
            config.numHiddenLayers = contents.value("bert.block_count")?.intValue ?? config.numHiddenLayers
            config.hiddenSize = contents.value("bert.embedding_length")?.intValue ?? config.hiddenSize
            config.intermediateSize = contents.value("bert.feed_forward_length")?.intValue ?? config.intermediateSize
            config.numAttentionHeads = contents.value("bert.attention.head_count")?.intValue ?? config.numAttentionHeads
            config.maxPositionEmbeddings = contents.value("bert.context_length")?.intValue ?? config.maxPositionEmbeddings
            if config.layerNormEps == nil, let eps = contents.value("bert.attention.layer_norm_epsilon")?.doubleValue {
                config.layerNormEps = Double(Float(eps).description) ?? eps
            }
            if config.vocabSize == nil { config.vocabSize = model["embeddings.word_embeddings.weight"]?.shape[0] }
            if config.typeVocabSize == nil { config.typeVocabSize = model["embeddings.token_type_embeddings.weight"]?.shape[0] }
            if config.hiddenAct == nil { config.hiddenAct = "gelu" }
            model.config = config
        } else {
            for i in model.tensors.indices { model.tensors[i].name = expanded(model.tensors[i].name) }
        }
        if case .array(_, let values)? = contents.value("tokenizer.ggml.tokens") {
            // One vocab.txt line per embedding row: a token that is not a string or holds a line break would shift
            // every later id, so such a vocabulary is not rebuilt at all.
            let tokens = values.compactMap(\.stringValue)
            guard tokens.count == values.count, tokens.allSatisfy(AuxiliaryFile.fitsOneLine) else {
                model.notes.append(Note(.outputLimitation, "the GGUF vocabulary holds a token that is not one line of text: vocab.txt is not rebuilt"))
                return model
            }
            let lines = tokens.map { token -> String in
                if token.hasPrefix("["), token.hasSuffix("]") { return token }
                if token.hasPrefix("\u{2581}") { return String(token.dropFirst()) }
                return "##" + token
            }
            model.auxiliaryFiles.append(AuxiliaryFile(name: "vocab.txt", contents: Array((lines.joined(separator: "\n") + "\n").utf8)))
        }
        return model
    }
}
