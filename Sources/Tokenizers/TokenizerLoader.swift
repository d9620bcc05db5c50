import BinaryIO
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Picks and builds a model folder's tokenizer from its files, as transformers' `AutoTokenizer` would:
/// `tokenizer_config.json` (the class and its settings), `config.json`'s `model_type`, then the vocabulary files —
/// `spiece.model` (SentencePiece), `tokenizer.json` (WordPiece or byte-level BPE), `vocab.json` + `merges.txt`
/// (byte-level BPE), `vocab.txt` (WordPiece); Perceiver IO needs no file.
public enum TokenizerLoader {
    /// The tokenizer of the files; `modelType` overrides `config.json`'s `model_type`.
    public static func load(_ files: TokenizerFiles, modelType: String? = nil) throws -> any Tokenizer {
        let settings = try Settings(files)
        let type = try modelType ?? files.json("config.json")?["model_type"]?.stringValue
        let declared = settings.tokenizerClass?.replacingSuffix("Fast")
        if declared == "PerceiverTokenizer" || type == "perceiver" {
            return PerceiverByteTokenizer(maxLength: settings.maxLength ?? 2048)
        }
        if type == "cocolm" || declared?.hasPrefix("COCOLM") == true, !files.has("vocab.txt"), !files.has("tokenizer.json") {
            throw TokenizerError(.unsupported, file: files.location("config.json"),
                "COCO-LM's tokenizer is not implemented: microsoft/COCO-LM ships a fairseq dictionary (dict.txt) over a "
                + "SentencePiece BPE model (sp.model) and no transformers tokenizer; tokenize with fairseq and pass the ids")
        }
        let preferSentencePiece = declared == "AlbertTokenizer" || type == "albert" || !files.has("tokenizer.json")
        if preferSentencePiece, let model = try files.bytes("spiece.model") {
            return try sentencePiece(model, files: files, settings: settings)
        }
        if let json = try files.json("tokenizer.json") {
            return try fromTokenizerJSON(json, files: files, settings: settings)
        }
        if files.has("vocab.json"), files.has("merges.txt") {
            return try byteLevelBPE(files, settings: settings)
        }
        if let text = try files.text("vocab.txt") {
            return try wordPiece(tokens: WordPieceTokenizer.lines(text), files: files, settings: settings, normalizer: nil)
        }
        throw TokenizerError(.noTokenizer, file: files.location("config.json"),
            "no tokenizer files (tokenizer.json, spiece.model, vocab.json + merges.txt or vocab.txt) for model type \(type ?? "unknown")")
    }

    /// A model folder's tokenizer.
    public static func load(folder: String, modelType: String? = nil) throws -> any Tokenizer {
        try load(.folder(folder), modelType: modelType)
    }

    // MARK: - Kinds

    static func wordPiece(tokens: [String], files: TokenizerFiles, settings: Settings, normalizer: JSON?) throws -> WordPieceTokenizer {
        guard tokens.count <= files.limits.maxEntries else {
            throw TokenizerError(.malformed, file: files.location("vocab.txt"), "\(tokens.count) tokens is over the limit of \(files.limits.maxEntries)")
        }
        var options = WordPieceTokenizer.Options()
        options.lowercase = settings.bool("do_lower_case") ?? true
        options.stripAccents = settings.bool("strip_accents")
        options.tokenizeChineseCharacters = settings.bool("tokenize_chinese_chars") ?? true
        if let normalizer {
            if normalizer["type"]?.stringValue == "BertNormalizer" {
                options.lowercase = normalizer["lowercase"]?.boolValue ?? options.lowercase
                options.stripAccents = normalizer["strip_accents"]?.boolValue
                options.tokenizeChineseCharacters = normalizer["handle_chinese_chars"]?.boolValue ?? options.tokenizeChineseCharacters
                options.cleanText = normalizer["clean_text"]?.boolValue ?? true
            }
        }
        options.unknownToken = settings.token("unk_token") ?? "[UNK]"
        // `never_split` is read by transformers 4's Python BertTokenizer only; transformers 5's BertTokenizer (the
        // `tokenizers` pipeline) ignores it, and so does this one.
        return try WordPieceTokenizer(tokens: tokens, options: options, addedTokens: settings.addedTokens, maxLength: settings.maxLength,
                                      specials: (settings.token("cls_token") ?? "[CLS]", settings.token("sep_token") ?? "[SEP]",
                                                 settings.token("pad_token") ?? "[PAD]"))
    }

    static func byteLevelBPE(_ files: TokenizerFiles, settings: Settings) throws -> ByteLevelBPETokenizer {
        guard let vocabJSON = try files.json("vocab.json"), let members = vocabJSON.objectValue else {
            throw TokenizerError(.malformed, file: files.location("vocab.json"), "must be an object of token → id")
        }
        let vocabulary = try ids(members, file: files.location("vocab.json"), limits: files.limits)
        let text = try files.text("merges.txt") ?? ""
        var merges: [ByteLevelBPETokenizer.Pair] = []
        for (number, line) in text.textLines().enumerated() {
            if line.isEmpty || (number == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError(.malformed, file: files.location("merges.txt"), "line \(number + 1) is not two symbols separated by one space")
            }
            merges.append(.init(String(parts[0]), String(parts[1])))
            guard merges.count <= files.limits.maxEntries else {
                throw TokenizerError(.malformed, file: files.location("merges.txt"), "more merges than the limit of \(files.limits.maxEntries)")
            }
        }
        return try ByteLevelBPETokenizer(vocabulary: vocabulary, merges: merges, specials: settings.bpeSpecials,
                                         addedTokens: settings.addedTokens, maxLength: settings.maxLength,
                                         addPrefixSpace: settings.bool("add_prefix_space") ?? false)
    }

    static func sentencePiece(_ bytes: [UInt8], files: TokenizerFiles, settings: Settings) throws -> UnigramTokenizer {
        let model = try SentencePieceModel(bytes: bytes, file: files.location("spiece.model"), limits: files.limits)
        var options = UnigramTokenizer.Options()
        options.lowercase = settings.bool("do_lower_case") ?? true
        options.keepAccents = settings.bool("keep_accents") ?? false
        options.addPrefixSpace = settings.bool("add_prefix_space") ?? true
        options.unknownToken = settings.token("unk_token") ?? options.unknownToken
        options.cls = settings.token("cls_token") ?? options.cls
        options.sep = settings.token("sep_token") ?? options.sep
        options.pad = settings.token("pad_token") ?? options.pad
        options.mask = settings.token("mask_token") ?? options.mask
        do {
            return try UnigramTokenizer(model: model, options: options, addedTokens: settings.addedTokens, maxLength: settings.maxLength)
        } catch var error as TokenizerError {
            error.file = error.file ?? files.location("spiece.model")
            throw error
        }
    }

    /// A `tokenizers` serialization (https://huggingface.co/docs/tokenizers/api/tokenizer): WordPiece or byte-level BPE.
    static func fromTokenizerJSON(_ json: JSON, files: TokenizerFiles, settings: Settings) throws -> any Tokenizer {
        let file = files.location("tokenizer.json")
        var settings = settings
        if let added = json["added_tokens"]?.arrayValue {
            guard added.count <= files.limits.maxEntries else { throw TokenizerError(.malformed, file: file, "too many added_tokens") }
            for entry in added {
                guard let token = Settings.addedToken(entry) else { throw TokenizerError(.malformed, file: file, "an added_tokens entry has no content") }
                settings.addedTokens.append(token)
            }
        }
        if let truncation = json["truncation"], let length = truncation["max_length"]?.intValue, settings.maxLength == nil {
            settings.maxLength = length
        }
        guard let model = json["model"] else { throw TokenizerError(.malformed, file: file, "has no model") }
        let template = try json["post_processor"].map { try Self.template($0, vocabulary: model, file: file) } ?? nil
        func framed<T: Tokenizer>(_ tokenizer: T, _ set: (inout T, SpecialTokensTemplate) -> Void) -> T {
            guard let template else { return tokenizer }
            var copy = tokenizer
            set(&copy, template)
            return copy
        }
        switch model["type"]?.stringValue {
        case "WordPiece"?:
            guard let members = model["vocab"]?.objectValue else { throw TokenizerError(.malformed, file: file, "model.vocab must be an object of token → id") }
            let vocabulary = try ids(members, file: file, limits: files.limits)
            guard let count = vocabulary.map(\.1).max().map({ $0 + 1 }), count <= files.limits.maxEntries else {
                throw TokenizerError(.malformed, file: file, "model.vocab is empty or its ids are over the limit")
            }
            var tokens = [String](repeating: "", count: count)
            for (token, id) in vocabulary where tokens[id].isEmpty { tokens[id] = token }
            if let unk = model["unk_token"]?.stringValue { settings.values["unk_token"] = .string(unk) }
            var tokenizer = try wordPiece(tokens: tokens, files: files, settings: settings, normalizer: json["normalizer"])
            if let prefix = model["continuing_subword_prefix"]?.stringValue, prefix != tokenizer.options.continuingSubwordPrefix
                || model["max_input_chars_per_word"]?.intValue.map({ $0 != tokenizer.options.maxInputCharactersPerWord }) == true {
                var options = tokenizer.options
                options.continuingSubwordPrefix = prefix
                options.maxInputCharactersPerWord = model["max_input_chars_per_word"]?.intValue ?? options.maxInputCharactersPerWord
                tokenizer = try WordPieceTokenizer(tokens: tokens, options: options, addedTokens: settings.addedTokens,
                                                   maxLength: settings.maxLength, specials: (settings.token("cls_token") ?? "[CLS]",
                                                   settings.token("sep_token") ?? "[SEP]", settings.token("pad_token") ?? "[PAD]"))
            }
            return framed(tokenizer) { $0.template = $1 }
        case "BPE"?:
            guard json["pre_tokenizer"]?["type"]?.stringValue == "ByteLevel" else {
                throw TokenizerError(.unsupported, file: file, "only byte-level BPE (GPT-2 / RoBERTa) is implemented")
            }
            guard let members = model["vocab"]?.objectValue else { throw TokenizerError(.malformed, file: file, "model.vocab must be an object of token → id") }
            let vocabulary = try ids(members, file: file, limits: files.limits)
            var merges: [ByteLevelBPETokenizer.Pair] = []
            for entry in model["merges"]?.arrayValue ?? [] {
                if let text = entry.stringValue {
                    let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                    guard parts.count == 2 else { throw TokenizerError(.malformed, file: file, "merge '\(text)' is not two symbols") }
                    merges.append(.init(String(parts[0]), String(parts[1])))
                } else if let pair = entry.arrayValue, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                    merges.append(.init(a, b))
                } else {
                    throw TokenizerError(.malformed, file: file, "a merge is neither \"a b\" nor [\"a\", \"b\"]")
                }
            }
            guard merges.count <= files.limits.maxEntries else { throw TokenizerError(.malformed, file: file, "too many merges") }
            let prefixSpace = json["pre_tokenizer"]?["add_prefix_space"]?.boolValue ?? settings.bool("add_prefix_space") ?? false
            return framed(try ByteLevelBPETokenizer(vocabulary: vocabulary, merges: merges, specials: settings.bpeSpecials,
                                                    addedTokens: settings.addedTokens, maxLength: settings.maxLength, addPrefixSpace: prefixSpace)) {
                $0.template = $1
            }
        case "Unigram"?:
            return framed(try unigram(json, model: model, files: files, settings: settings)) { $0.template = $1 }
        case let other:
            throw TokenizerError(.unsupported, file: file, "model type \(other ?? "missing") in tokenizer.json is not implemented (WordPiece, byte-level BPE and Unigram are)")
        }
    }

    /// A Unigram model of tokenizer.json with its normalizer sequence and Metaspace pre-tokenizer.
    static func unigram(_ json: JSON, model: JSON, files: TokenizerFiles, settings: Settings) throws -> UnigramTokenizer {
        let file = files.location("tokenizer.json")
        guard let entries = model["vocab"]?.arrayValue, entries.count <= files.limits.maxEntries else {
            throw TokenizerError(.malformed, file: file, "model.vocab must be a list of [piece, score] under the entry limit")
        }
        var pieces: [(String, Double)] = []
        pieces.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() {
            guard let pair = entry.arrayValue, pair.count == 2, let piece = pair[0].stringValue, let score = pair[1].doubleValue, score.isFinite,
                  piece.utf8.count <= files.limits.maxTokenBytes else {
                throw TokenizerError(.malformed, file: file, "model.vocab[\(i)] is not a [piece, finite score] pair")
            }
            pieces.append((piece, score))
        }
        guard model["byte_fallback"]?.boolValue != true else {
            throw TokenizerError(.unsupported, file: file, "Unigram with byte_fallback is not implemented")
        }
        let unknownId = model["unk_id"]?.intValue ?? 0
        var steps: [UnigramTokenizer.NormalizerStep] = []
        try normalizerSteps(json["normalizer"], into: &steps, file: file, depth: 0)
        let (whitespaceSplit, scheme) = try metaspace(json["pre_tokenizer"], file: file)
        var options = UnigramTokenizer.Options()
        if pieces.indices.contains(unknownId) { options.unknownToken = pieces[unknownId].0 }
        options.cls = settings.token("cls_token") ?? options.cls
        options.sep = settings.token("sep_token") ?? options.sep
        options.pad = settings.token("pad_token") ?? options.pad
        options.mask = settings.token("mask_token") ?? options.mask
        do {
            return try UnigramTokenizer(pieces: pieces, unknownId: unknownId, normalizer: steps, whitespaceSplit: whitespaceSplit,
                                        prependScheme: scheme, options: options, addedTokens: settings.addedTokens, maxLength: settings.maxLength)
        } catch var error as TokenizerError {
            error.file = error.file ?? file
            throw error
        }
    }

    static func normalizerSteps(_ json: JSON?, into steps: inout [UnigramTokenizer.NormalizerStep], file: String, depth: Int) throws {
        guard let json, json != .null else { return }
        guard depth < 8 else { throw TokenizerError(.malformed, file: file, "normalizer sequences nested too deeply") }
        switch json["type"]?.stringValue {
        case "Sequence"?:
            for inner in json["normalizers"]?.arrayValue ?? [] { try normalizerSteps(inner, into: &steps, file: file, depth: depth + 1) }
        case "Replace"?:
            let content = json["content"]?.stringValue ?? ""
            if let literal = json["pattern"]?["String"]?.stringValue, !literal.isEmpty {
                steps.append(.replace(literal, content))
            } else if json["pattern"]?["Regex"]?.stringValue == " {2,}", content == " " {
                steps.append(.collapseSpaces)
            } else {
                throw TokenizerError(.unsupported, file: file, "a Replace normalizer with pattern \(json["pattern"]?.serialized() ?? "none") is not implemented")
            }
        case "NFKD"?: steps.append(.nfkd)
        case "NFD"?: steps.append(.nfd)
        case "NFKC"?: steps.append(.nfkc)
        case "NFC"?: steps.append(.nfc)
        case "StripAccents"?: steps.append(.stripAccents)
        case "Lowercase"?: steps.append(.lowercase)
        case "Precompiled"?:
            guard let encoded = json["precompiled_charsmap"]?.stringValue, !encoded.isEmpty else { return }
            guard let bytes = Data(base64Encoded: encoded) else {
                throw TokenizerError(.malformed, file: file, "precompiled_charsmap is not base64")
            }
            steps.append(.precompiled(try PrecompiledCharsMap([UInt8](bytes), file: file)))
        case let other:
            throw TokenizerError(.unsupported, file: file, "normalizer \(other ?? "without a type") is not implemented for Unigram models")
        }
    }

    /// `[WhitespaceSplit,] Metaspace(replacement: "▁", prepend_scheme, split: true)`.
    static func metaspace(_ json: JSON?, file: String) throws -> (whitespaceSplit: Bool, scheme: UnigramTokenizer.PrependScheme) {
        var parts = [json ?? .null]
        if json?["type"]?.stringValue == "Sequence" { parts = json?["pretokenizers"]?.arrayValue ?? [] }
        var whitespaceSplit = false
        var scheme: UnigramTokenizer.PrependScheme?
        for part in parts {
            switch part["type"]?.stringValue {
            case "WhitespaceSplit"? where scheme == nil:
                whitespaceSplit = true
            case "Metaspace"?:
                guard part["replacement"]?.stringValue ?? "\u{2581}" == "\u{2581}", part["split"]?.boolValue ?? true else {
                    throw TokenizerError(.unsupported, file: file, "only Metaspace with replacement ▁ and split is implemented")
                }
                switch part["prepend_scheme"]?.stringValue ?? (part["add_prefix_space"]?.boolValue == false ? "never" : "always") {
                case "always": scheme = .always
                case "first": scheme = .first
                case "never": scheme = .never
                case let other: throw TokenizerError(.malformed, file: file, "unknown Metaspace prepend_scheme \(other)")
                }
            default:
                throw TokenizerError(.unsupported, file: file, "pre-tokenizer \(part["type"]?.stringValue ?? "none") is not implemented for Unigram models")
            }
        }
        guard let scheme else { throw TokenizerError(.unsupported, file: file, "a Unigram model without a Metaspace pre-tokenizer is not implemented") }
        return (whitespaceSplit, scheme)
    }

    /// The post-processor (TemplateProcessing, RobertaProcessing, BertProcessing) as a template; nil for none.
    static func template(_ json: JSON, vocabulary model: JSON, file: String) throws -> SpecialTokensTemplate? {
        func id(_ pair: JSON?) throws -> Int {
            guard let value = pair?.arrayValue, value.count == 2, let id = value[1].intValue else {
                throw TokenizerError(.malformed, file: file, "post_processor: a special token is not [token, id]")
            }
            return id
        }
        switch json["type"]?.stringValue {
        case nil:
            return nil
        case "RobertaProcessing"?:
            return .roberta(bos: try id(json["cls"]), eos: try id(json["sep"]))
        case "BertProcessing"?:
            return .bert(cls: try id(json["cls"]), sep: try id(json["sep"]))
        case "TemplateProcessing"?:
            var specials: [String: [Int]] = [:]
            for (name, value) in json["special_tokens"]?.objectValue ?? [] {
                guard let ids = value["ids"]?.arrayValue?.compactMap(\.intValue) else {
                    throw TokenizerError(.malformed, file: file, "post_processor: special token \(name) has no ids")
                }
                specials[name] = ids
            }
            /// The ids around the sequences: before A, between A and B, after the last, and B's type.
            func parts(_ items: [JSON]) throws -> (before: [Int], between: [Int], after: [Int], typeB: Int) {
                var before: [Int] = [], between: [Int] = [], after: [Int] = [], seen = 0, typeB = 0
                for item in items {
                    if let special = item["SpecialToken"] {
                        guard let name = special["id"]?.stringValue, let ids = specials[name] else {
                            throw TokenizerError(.malformed, file: file, "post_processor: a template names an undefined special token")
                        }
                        if seen == 0 { before += ids } else if seen == 1 { between += ids } else { after += ids }
                    } else if let sequence = item["Sequence"] {
                        seen += 1
                        if sequence["id"]?.stringValue == "B" { typeB = sequence["type_id"]?.intValue ?? 0 }
                    } else {
                        throw TokenizerError(.malformed, file: file, "post_processor: a template item is neither SpecialToken nor Sequence")
                    }
                }
                return (before, between, after, typeB)
            }
            let single = try parts(json["single"]?.arrayValue ?? [])
            let pair = try parts(json["pair"]?.arrayValue ?? [])
            guard pair.before == single.before, pair.between.starts(with: single.between) else {
                throw TokenizerError(.unsupported, file: file, "post_processor: a pair template that does not extend the single one")
            }
            return SpecialTokensTemplate(prefix: single.before, firstSuffix: single.between, pairPrefix: Array(pair.between.dropFirst(single.between.count)),
                                         pairSuffix: pair.after, pairTypeId: pair.typeB)
        case let other?:
            throw TokenizerError(.unsupported, file: file, "post_processor \(other) is not implemented")
        }
    }

    /// `{token: id}` checked: ids non-negative integers under the entry limit, tokens within the size limit.
    static func ids(_ members: [(key: String, value: JSON)], file: String, limits: TokenizerLimits) throws -> [(String, Int)] {
        guard members.count <= limits.maxEntries else { throw TokenizerError(.malformed, file: file, "\(members.count) tokens is over the limit of \(limits.maxEntries)") }
        var vocabulary: [(String, Int)] = []
        vocabulary.reserveCapacity(members.count)
        for (token, value) in members {
            guard let id = value.intValue, id >= 0, id < limits.maxEntries else {
                throw TokenizerError(.malformed, file: file, "token '\(token.prefix(40))' has id \(value.serialized()), not an integer in 0..<\(limits.maxEntries)")
            }
            guard token.utf8.count <= limits.maxTokenBytes else { throw TokenizerError(.malformed, file: file, "a token of \(token.utf8.count) bytes is over the limit") }
            vocabulary.append((token, id))
        }
        return vocabulary
    }

    /// `tokenizer_config.json` merged over `special_tokens_map.json`.
    struct Settings {
        var values: [String: JSON] = [:]
        var addedTokens: [AddedToken] = []
        var maxLength: Int?

        init(_ files: TokenizerFiles) throws {
            for name in ["special_tokens_map.json", "tokenizer_config.json"] {
                guard let json = try files.json(name) else { continue }
                guard let members = json.objectValue else { throw TokenizerError(.malformed, file: files.location(name), "must be a JSON object") }
                for (key, value) in members { values[key] = value }
            }
            if let decoder = values["added_tokens_decoder"]?.objectValue {
                let sorted = decoder.compactMap { entry in Int(entry.key).map { ($0, entry.value) } }.sorted { $0.0 < $1.0 }
                for (_, value) in sorted {
                    guard let token = Self.addedToken(value) else {
                        throw TokenizerError(.malformed, file: files.location("tokenizer_config.json"), "an added_tokens_decoder entry has no content")
                    }
                    addedTokens.append(token)
                }
            }
            // Then the legacy added_tokens.json (token → id; transformers 5 appends them in id order whatever the
            // ids say), then the extra special tokens.
            if let legacy = try files.json("added_tokens.json") {
                guard let members = legacy.objectValue, members.count <= files.limits.maxEntries else {
                    throw TokenizerError(.malformed, file: files.location("added_tokens.json"), "must be an object of token → id under the entry limit")
                }
                for (token, _) in members.sorted(by: { ($0.value.intValue ?? 0) < ($1.value.intValue ?? 0) }) where !token.isEmpty {
                    addedTokens.append(AddedToken(token, special: false))
                }
            }
            for key in ["additional_special_tokens", "extra_special_tokens"] {
                guard let list = values[key]?.arrayValue else { continue }
                guard list.count <= files.limits.maxEntries else {
                    throw TokenizerError(.malformed, file: files.location("tokenizer_config.json"), "\(key) has too many entries")
                }
                for entry in list {
                    guard let token = Self.addedToken(entry) else { continue }
                    addedTokens.append(token)
                }
            }
            // transformers' "no limit" is int(1e30); anything past Int is no limit too.
            if let length = values["model_max_length"], let number = length.doubleValue, number > 0, number < 1e15 {
                maxLength = Int(number)
            }
        }

        func bool(_ key: String) -> Bool? { values[key]?.boolValue }

        var tokenizerClass: String? { values["tokenizer_class"]?.stringValue }

        /// A special token given as a string or as an AddedToken object.
        func token(_ key: String) -> String? {
            values[key]?.stringValue ?? values[key]?["content"]?.stringValue
        }

        func strings(_ key: String) -> [String] { values[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }

        var bpeSpecials: ByteLevelBPETokenizer.Specials {
            var specials = ByteLevelBPETokenizer.Specials()
            specials.bos = token("cls_token") ?? token("bos_token") ?? specials.bos
            specials.eos = token("sep_token") ?? token("eos_token") ?? specials.eos
            specials.pad = token("pad_token") ?? specials.pad
            specials.unknown = token("unk_token") ?? specials.unknown
            specials.mask = token("mask_token") ?? specials.mask
            return specials
        }

        static func addedToken(_ value: JSON) -> AddedToken? {
            if let content = value.stringValue { return AddedToken(content) }
            guard let content = value["content"]?.stringValue, !content.isEmpty else { return nil }
            return AddedToken(content, lstrip: value["lstrip"]?.boolValue ?? false, rstrip: value["rstrip"]?.boolValue ?? false,
                              singleWord: value["single_word"]?.boolValue ?? false, special: value["special"]?.boolValue ?? true)
        }
    }
}

extension String {
    func replacingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
