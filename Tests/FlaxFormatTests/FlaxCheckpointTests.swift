import BinaryIO
import FlaxFormat
import ModelIR
import SafetensorsFormat
import TestSupport
import Testing

func expectEqualToReference(_ model: Model, reference: String) throws {
    let (expected, _) = try SafetensorsReader.read(path: Samples.path("keras-flax/reference/\(reference).safetensors"))
    #expect(try tensorMismatches(model, expected: expected) == [])
}

@Suite struct FlaxCheckpointTests {
    /// flax_model.msgpack files written by transformers 4.46.3's Flax classes from seeded PyTorch models.
    @Test(arguments: [("bert-flax/flax_model.msgpack", "bert"), ("albert-flax/flax_model.msgpack", "albert"),
                      ("bert-cls-flax/flax_model.msgpack", "bert-cls"),
                      ("bert-flax-sharded/flax_model.msgpack.index.json", "bert"),
                      ("bert-flax-chunked/flax_model.msgpack", "bert")])
    func readsTransformersFlaxWeightsAsThePyTorchWeightsTheyCameFrom(file: String, reference: String) throws {
        let model = try FlaxCheckpoint.read(path: Samples.path("keras-flax/" + file))
        try expectEqualToReference(model, reference: reference)
    }

    @Test func arraysAreMappedNotCopied() throws {
        let (tensors, _) = try FlaxCheckpoint.readTensors(path: Samples.path("keras-flax/bert-flax/flax_model.msgpack"))
        #expect(tensors.count == 39)
        #expect(tensors.allSatisfy { $0.data.isMapped })
        #expect(tensors.contains { $0.name == "encoder/layer/1/attention/self/query/kernel" })
    }

    @Test func chunkedArraysAreReassembled() throws {
        // flax splits arrays over MAX_CHUNK_SIZE (1 KiB in this fixture) into {"__msgpack_chunked_array__", shape, chunks}.
        let (tensors, _) = try FlaxCheckpoint.readTensors(path: Samples.path("keras-flax/bert-flax-chunked/flax_model.msgpack"))
        let embeddings = try #require(tensors.first { $0.name == "embeddings/word_embeddings/embedding" })
        #expect(embeddings.shape == [84, 16])
        #expect(!embeddings.data.isMapped)
        #expect(tensors.filter { !$0.data.isMapped }.count >= 5)
    }

    @Test(arguments: [
        ("encoder/layer/0/intermediate/dense/kernel", "encoder.layer.0.intermediate.dense.weight", true),
        ("embeddings/LayerNorm/scale", "embeddings.LayerNorm.weight", false),
        ("embeddings/word_embeddings/embedding", "embeddings.word_embeddings.weight", false),
        ("classifier/bias", "classifier.bias", false),
    ])
    func namesFollowTransformersFlaxToPyTorchRules(flax: String, pytorch: String, transpose: Bool) {
        let (name, transposed, _) = FlaxCheckpoint.pytorchName(flax)
        #expect(name == pytorch)
        #expect(transposed == transpose)
    }

    static let hostile: [(String, String)] = [
        ("truncated.msgpack", "truncated"),
        ("deep-nesting.msgpack", "nesting deeper than 64 levels"),
        ("huge-map.msgpack", "map declares 4294967295 entries, but only 12 bytes remain"),
        ("huge-array.msgpack", "array declares 2147483647 entries, but only 1 bytes remain"),
        ("short-array.msgpack", "tensor 'w/kernel': float32 [4, 4] needs 64 bytes, but 60 are stored"),
        ("unknown-dtype.msgpack", "dtype 'complex64' is not one ModelPort reads"),
        ("lying-bin-length.msgpack", "bin 8 declares 255 bytes"),
        ("overflowing-shape.msgpack", "overflows"),
    ]

    @Test(arguments: hostile)
    func refusesHostileFilesWithOneClearError(file: String, reason: String) throws {
        let path = Samples.path("keras-flax/hostile/" + file)
        let error = try #require(throws: ModelError.self) { try FlaxCheckpoint.read(path: path) }
        #expect(error.file == path)
        #expect(error.description.contains(reason), "\(error)")
    }

    @Test func nestingPastTheCapIsALimitError() throws {
        let path = Samples.path("keras-flax/hostile/deep-nesting.msgpack")
        let error = try #require(throws: ModelError.self) { try FlaxCheckpoint.read(path: path) }
        #expect(error.kind == .limitExceeded)
        #expect(error.location == .offset(193))
        var limits = ReaderLimits()
        limits.maxNestingDepth = 300
        // With a higher cap the same file parses: its leaf holds no array, so it reads as an empty model.
        let model = try ReaderLimits.$current.withValue(limits) { try FlaxCheckpoint.read(path: path) }
        #expect(model.tensors.isEmpty)
    }

    @Test func aKeyNoRuleKnowsIsKeptWithANoteOrRefusedWhenStrict() throws {
        let path = Samples.path("broken/hostile/flax/unknown-key.msgpack")
        let model = try FlaxCheckpoint.read(path: path)
        #expect(model["norm.moving_mean"] != nil)
        #expect(model["dense.weight"]?.shape == [3, 2])
        #expect(model.notes.contains { $0.kind == .naming && $0.text.contains("norm/moving_mean") })
        let error = try #require(throws: ModelError.self) { try FlaxCheckpoint.read(path: path, strict: true) }
        #expect(error.location == .tensor("norm/moving_mean"))
        #expect(error.reason.contains("matches no Flax naming rule"))
    }

    @Test func recognizesAMapWithAStringKeyOnly() {
        #expect([UInt8]([0x83, 0xA3, 0x61, 0x62, 0x63]).withUnsafeBytes { FlaxCheckpoint.recognizes($0) })
        #expect(![UInt8]([0x80, 0x02, 0x7D]).withUnsafeBytes { FlaxCheckpoint.recognizes($0) })  // a pickle
        #expect(![UInt8]([0x93, 0x01, 0x02]).withUnsafeBytes { FlaxCheckpoint.recognizes($0) })  // an array
    }

    @Test func nestedContainersCannotReserveMoreThanTheDocumentHolds() throws {
        // 40 nested arrays that each claim 2^31 − 1 entries: refused at the first, before any reservation.
        let bytes: [UInt8] = Array(repeating: [0xDD, 0x7F, 0xFF, 0xFF, 0xFF], count: 40).flatMap { $0 }
        let error = try #require(throws: BinaryIOError.self) {
            try bytes.withUnsafeBytes { raw in var parser = MessagePackParser(raw, path: "x"); _ = try parser.parse() }
        }
        #expect(error.reason.contains("declares 2147483647 entries"))
    }
}
