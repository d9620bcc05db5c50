import BinaryIO
import TestSupport
import Testing
@testable import Tokenizers

/// Tokenizer files are untrusted input: every broken or oversized one is one `TokenizerError`, never a crash.
@Suite struct HostileFileTests {
    static func load(_ files: [String: [UInt8]], limits: TokenizerLimits = TokenizerLimits(), type: String? = nil) throws -> any Tokenizer {
        try TokenizerLoader.load(TokenizerFiles(files: files.mapValues { .bytes($0) }, limits: limits), modelType: type)
    }

    static func isMalformed(_ error: any Error) -> Bool {
        guard let error = error as? TokenizerError else { return false }
        return error.kind == .malformed && !error.description.contains("\n")
    }

    @Test func aTruncatedSentencePieceModelIsMalformed() throws {
        let model = try Samples.bytes("tokenizers/albert/spiece.model")
        for cut in [1, 7, model.count / 3, model.count - 1] {
            #expect { _ = try Self.load(["spiece.model": Array(model.prefix(cut))], type: "albert") } throws: { Self.isMalformed($0) }
        }
    }

    @Test func garbageIsNotASentencePieceModel() throws {
        var generator = SystemRandomNumberGenerator()
        let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
        var state = seed
        let bytes = (0..<4096).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let result = Result { try Self.load(["spiece.model": bytes], type: "albert") }
        if case .failure(let error) = result {
            #expect(Self.isMalformed(error) || (error as? TokenizerError) != nil, "seed \(seed)")
        }
    }

    @Test func aCharsMapWhoseTrieOverrunsTheBytesIsMalformed() throws {
        let proto = try Sentencepiece_ModelProto(serializedBytes: Samples.bytes("tokenizers/albert/spiece.model"))
        var map = [UInt8](proto.normalizerSpec.precompiledCharsmap)
        #expect(!map.isEmpty)
        map[3] = 0x7F  // trie size ≈ 2 GB
        #expect { _ = try PrecompiledCharsMap(map) } throws: { Self.isMalformed($0) }
        map = [UInt8](proto.normalizerSpec.precompiledCharsmap)
        map[0] |= 1  // not a multiple of 4
        #expect { _ = try PrecompiledCharsMap(map) } throws: { Self.isMalformed($0) }
        #expect { _ = try PrecompiledCharsMap([1, 0]) } throws: { Self.isMalformed($0) }
    }

    @Test func aCharsMapWithWildTrieUnitsNeverReadsOutOfBounds() throws {
        let proto = try Sentencepiece_ModelProto(serializedBytes: Samples.bytes("tokenizers/albert/spiece.model"))
        var map = [UInt8](proto.normalizerSpec.precompiledCharsmap)
        // Every 7th unit of the trie becomes all ones: offsets and values far outside.
        let size = Int(map[0]) | Int(map[1]) << 8 | Int(map[2]) << 16 | Int(map[3]) << 24
        for unit in stride(from: 0, to: size / 4, by: 7) {
            for k in 0..<4 { map[4 + unit * 4 + k] = 0xFF }
        }
        let charsMap = try PrecompiledCharsMap(map)
        for golden in Goldens.cases("albert") { _ = charsMap.normalize(golden.text) }
    }

    @Test func aDeeplyNestedTokenizerJSONIsMalformed() throws {
        let nested = Array((String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)).utf8)
        #expect { _ = try Self.load(["tokenizer.json": nested]) } throws: { Self.isMalformed($0) }
    }

    @Test(arguments: [
        #"{"model": {"type": "WordPiece", "vocab": {"[CLS]": -1}}}"#,
        #"{"model": {"type": "WordPiece", "vocab": {"[CLS]": 1e300}}}"#,
        #"{"model": {"type": "WordPiece", "vocab": {"[CLS]": 99999999999}}}"#,
        #"{"model": {"type": "WordPiece", "vocab": ["[CLS]"]}}"#,
        #"{"model": {"type": "BPE", "vocab": {"<s>": 0}, "merges": [7]}}"#,
        #"{"added_tokens": [{"id": 0}], "model": {"type": "WordPiece", "vocab": {}}}"#,
        #"{"model": 3}"#,
        #"{"model": {"type": "Unigram", "vocab": [["a", "x"]]}, "pre_tokenizer": {"type": "Metaspace"}}"#,
        #"{"model": {"type": "Unigram", "vocab": [["a", -1.0]], "unk_id": 5}, "pre_tokenizer": {"type": "Metaspace"}}"#,
        #"{"model": {"type": "Unigram", "vocab": [["a", -1.0]]}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "!!"}, "pre_tokenizer": {"type": "Metaspace"}}"#,
        #"{"model": {"type": "Unigram", "vocab": [["a", -1.0]]}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "AAAA"}, "pre_tokenizer": {"type": "Metaspace"}}"#,
        #"{"model": {"type": "Unigram", "vocab": [["a", -1.0]]}, "pre_tokenizer": {"type": "ByteLevel"}}"#,
        #"{"model": {"type": "WordPiece", "vocab": {"[CLS]": 0, "[SEP]": 1}}, "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "X"}}]}}"#,
    ])
    func brokenTokenizerJSONIsOneError(json: String) throws {
        let files = ["tokenizer.json": Array(json.utf8)]
        #expect { _ = try Self.load(files) } throws: { $0 is TokenizerError && !String(describing: $0).contains("\n") }
    }

    @Test func brokenBPEFilesAreMalformed() throws {
        let merges = try Samples.bytes("tokenizers/roberta/merges.txt")
        #expect { _ = try Self.load(["vocab.json": Array("[1, 2]".utf8), "merges.txt": merges]) } throws: { Self.isMalformed($0) }
        let vocab = try Samples.bytes("tokenizers/roberta/vocab.json")
        #expect { _ = try Self.load(["vocab.json": vocab, "merges.txt": Array("#version: 0.2\na b c\n".utf8)]) } throws: { Self.isMalformed($0) }
        #expect { _ = try Self.load(["vocab.json": vocab, "merges.txt": [0xFF, 0xFE]]) } throws: { Self.isMalformed($0) }
    }

    @Test func filesOverTheSizeLimitAreRefusedBeforeParsing() throws {
        var limits = TokenizerLimits()
        limits.maxFileBytes = 1000
        let model = try Samples.bytes("tokenizers/albert/spiece.model")
        #expect { _ = try Self.load(["spiece.model": model], limits: limits, type: "albert") } throws: {
            Self.isMalformed($0) && String(describing: $0).contains("limit")
        }
    }

    @Test func entryCountsAreCapped() throws {
        var limits = TokenizerLimits()
        limits.maxEntries = 100
        #expect { _ = try Self.load(["spiece.model": try Samples.bytes("tokenizers/albert/spiece.model")], limits: limits, type: "albert") } throws: {
            Self.isMalformed($0)
        }
        #expect { _ = try Self.load(["vocab.txt": try Samples.bytes("tokenizers/bert-cased/vocab.txt")], limits: limits) } throws: {
            Self.isMalformed($0)
        }
    }

    @Test func aTokenizerConfigThatIsNotAnObjectIsMalformed() throws {
        let vocab = try Samples.bytes("tokenizers/bert-cased/vocab.txt")
        #expect { _ = try Self.load(["vocab.txt": vocab, "tokenizer_config.json": Array("[]".utf8)]) } throws: { Self.isMalformed($0) }
    }

    @Test func noFilesIsNoTokenizer() throws {
        #expect { _ = try Self.load([:], type: "bert") } throws: { ($0 as? TokenizerError)?.kind == .noTokenizer }
    }

    @Test func longWordsCostNoMoreThanTheirLimit() throws {
        // A 200 000-character word is [UNK] at once, not a quadratic search.
        let tokenizer = try Goldens.tokenizer("bert-cased")
        #expect(tokenizer.tokenize(String(repeating: "a", count: 200_000)) == ["[UNK]"])
        let albert = try Goldens.tokenizer("albert")
        #expect(!albert.tokenize(String(repeating: "ab", count: 20_000)).isEmpty)
        // One 40 000-letter pre-token through byte-level BPE: every byte ends up in exactly one token.
        let roberta = try Goldens.tokenizer("roberta")
        let tokens = roberta.tokenize(String(repeating: "ab", count: 20_000))
        #expect(tokens.joined() == String(repeating: "ab", count: 20_000))
        #expect(tokens.count < 40_000)
    }
}
