import BinaryIO
import ModelIR
import SafetensorsFormat
@testable import TensorFlowFormat
import TestSupport
import Testing

@Suite struct TensorBundleTests {
    @Test func readsTF1NamesShapesAndTheHeader() throws {
        let contents = try TensorBundle.read(Samples.path("tensorflow/bert-tiny-tf1"))
        #expect(contents.prefix.hasSuffix("tensorflow/bert-tiny-tf1/bert_model.ckpt"))
        let names = Set(contents.tensors.map(\.name))
        #expect(names.contains("bert/encoder/layer_3/attention/self/query/kernel"))
        #expect(names.contains("bert/encoder/layer_3/attention/self/query/kernel/adam_m"))
        #expect(names.contains("global_step"))
        #expect(contents.tensors.count == 78 * 3 + 1)
        let kernel = try #require(contents.tensors.first { $0.name == "bert/encoder/layer_0/intermediate/dense/kernel" })
        #expect(kernel.dtype == .f32 && kernel.shape == [32, 64])
        #expect(kernel.data.isMapped)
        let step = try #require(contents.tensors.first { $0.name == "global_step" })
        #expect(step.dtype == .i64 && step.shape == [])
        #expect(try step.withBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) } == 1000)
    }

    @Test(arguments: ["bert_model.ckpt", "bert_model.ckpt.index", ""])
    func acceptsPrefixIndexFileOrFolder(suffix: String) throws {
        let source = Samples.path("tensorflow/bert-tiny-sharded") + (suffix.isEmpty ? "" : "/" + suffix)
        #expect(try TensorBundle.prefix(for: source) == Samples.path("tensorflow/bert-tiny-sharded/bert_model.ckpt"))
    }

    @Test func reassemblesPartitionedVariablesAcrossShards() throws {
        let contents = try TensorBundle.read(Samples.path("tensorflow/bert-tiny-sharded"))
        let words = try #require(contents.tensors.first { $0.name == "bert/embeddings/word_embeddings" })
        #expect(words.shape == [84, 32] && !words.data.isMapped)
        let (reference, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        let expected = try #require(reference.first { $0.name == "embeddings.word_embeddings.weight" })
        #expect(try words.withBytes { Array($0) } == (try expected.withBytes { Array($0) }))
    }

    @Test func namesTF2TensorsByTheObjectGraph() throws {
        let contents = try TensorBundle.read(Samples.path("tensorflow/bert-tiny-tf2"))
        #expect(contents.tensors.contains { $0.name == "bert/encoder/layer_2/output/LayerNorm/gamma" })
        #expect(!contents.tensors.contains { $0.name.contains(".ATTRIBUTES") })
        #expect(contents.skipped.map(\.name) == ["_CHECKPOINTABLE_OBJECT_GRAPH"])
    }

    /// `tf.Variable(x)` without a name inside a `tf.Module` tree: every full_name is "Variable", so the object-graph
    /// paths name the tensors.
    @Test func namesUnnamedTF2VariablesByTheirObjectPaths() throws {
        let contents = try TensorBundle.read(Samples.path("tensorflow/bert-tiny-tf2-unnamed"))
        let names = contents.tensors.map(\.name)
        #expect(names.contains("bert/encoder/layer_0/attention/self/query/kernel"))
        #expect(names.contains("bert/embeddings/word_embeddings"))
        #expect(!names.contains("Variable"))
        #expect(Set(names).count == names.count)
        #expect(contents.notes.contains { $0.text.contains("full names repeat ('Variable')") })
    }

    @Test func objectPathsAreUnescaped() {
        #expect(TensorBundle.unescapedObjectPath("model/dense..1/w.Sx") == "model/dense.1/w/x")
        #expect(TensorBundle.unescapedObjectPath("bert/encoder/layer_0") == "bert/encoder/layer_0")
    }

    @Test func sliceKeysMatchOrderedCode() {
        let cases: [(Int64, [UInt8])] = [
            (0, [0x80]), (1, [0x81]), (63, [0xBF]), (-1, [0x7F]), (-64, [0x40]), (64, [0xC0, 0x40]), (100, [0xC0, 0x64]),
            (-65, [0x3F, 0xBF]), (8191, [0xDF, 0xFF]), (8192, [0xE0, 0x20, 0x00]), (1_000_000, [0xEF, 0x42, 0x40]),
        ]
        for (value, bytes) in cases { #expect(SliceKey.signedNumIncreasing(value) == bytes, "\(value)") }
        #expect(SliceKey.encode(name: [0x61, 0x00, 0xFF], extents: [(0, nil)]) == [0, 0x61, 0, 0xFF, 0xFF, 0, 0, 1, 1, 1, 0x80, 0x7F])
    }

    static let broken: [(String, String)] = [
        ("truncated-index", "model.ckpt.index: offset 121: bad table magic (not a TensorFlow checkpoint index)"),
        ("flipped-index-byte", "model.ckpt.index: offset 0: data block checksum mismatch"),
        ("missing-shard", "model.ckpt.data-00001-of-00002: tensor 'bert/encoder/layer_0/output/dense/kernel': data shard is missing"),
        ("truncated-shard", "tensor 'bert/pooler/dense/bias': bytes 512..<544 run past the end of the 528-byte shard"),
        ("shape-size-mismatch", "tensor 'bert/embeddings/position_embeddings': size 512 does not match f32 shape (4064 bytes)"),
        ("snappy-block", "model.ckpt.index: offset 0: data block is Snappy-compressed, which ModelPort does not support"),
        ("wrong-num-shards", "model.ckpt.data-00000-of-00127: tensor 'bert/embeddings/position_embeddings': data shard is missing"),
    ]

    @Test(arguments: broken)
    func rejectsBrokenCheckpoints(name: String, message: String) {
        #expect {
            try TensorBundle.read(Samples.path("broken/tensorflow/" + name))
        } throws: { error in
            error is ModelError && String(describing: error).contains(message)
        }
    }

    @Test func aCorruptTensorFailsWhenRead() throws {
        let contents = try TensorBundle.read(Samples.path("broken/tensorflow/flipped-tensor-byte"))
        var failures: [String] = []
        for tensor in contents.tensors {
            do { try tensor.withBytes { _ in } } catch { failures.append(String(describing: error)) }
        }
        #expect(failures.count == 1)
        #expect(failures.first?.contains("tensor 'bert/embeddings/position_embeddings': checksum mismatch") == true)
    }

    @Test func swapsBigEndianElements() {
        var bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        bytes.withUnsafeMutableBytes { swapByteOrder($0, width: 4) }
        #expect(bytes == [4, 3, 2, 1, 8, 7, 6, 5])
        bytes.withUnsafeMutableBytes { swapByteOrder($0, width: 2) }
        #expect(bytes == [3, 4, 1, 2, 7, 8, 5, 6])
    }

    @Test func aNonTableIsRefused() {
        #expect {
            try TensorBundle.read(Samples.path("bert-tiny/model.safetensors"))
        } throws: { String(describing: $0).contains("no TensorFlow checkpoint here") }
    }
}

/// Indexes of a checkpoint written by TensorFlow (`Samples/generate.py hostile_tensorflow`: `w` [6, 4] saved in three
/// slices of two rows), rewritten to break one rule each. Each must be one clear error, found in time linear in the
/// index, never a trap, a quadratic loop, or a tensor with zeros where a slice is missing.
@Suite struct HostileTensorBundleTests {
    static func path(_ name: String) -> String { Samples.path("broken/tensorflow-hostile/" + name) }

    @Test func theRewrittenIndexReadsAsTensorFlowsOwn() throws {
        let contents = try TensorBundle.read(Self.path("rewritten"))
        let w = try #require(contents.tensors.first { $0.name == "w" })
        #expect(w.shape == [6, 4])
        let values = try w.withBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(values.count == 24 && values.allSatisfy { $0 != 0 })
    }

    static let cases: [(String, String)] = [
        ("slice-repeated", "tensor 'w': slice [2, 0]+[2, 4] overlaps another slice (at [2, 0])"),
        ("slice-missing", "tensor 'w': slices leave part of the tensor uncovered (from [2, 0])"),
        ("shard-id-out-of-range", "tensor 'b': shard_id 7 is outside the checkpoint's 1 shards"),
        ("shard-id-negative", "tensor 'b': shard_id -1 is outside the checkpoint's 1 shards"),
        ("slice-extent-overflow", "tensor 'w': slice extent 2+9223372036854775807 is outside dimension 6"),
        ("slice-start-int64-min", "tensor 'w': slice extent -9223372036854775808+2 is outside dimension 6"),
        ("repeated-data-block", "repeats or overlaps the block before it"),
        ("shared-key-blowup", "keys spell out more than"),
    ]

    @Test(arguments: cases)
    func refusesWithOneClearError(name: String, message: String) throws {
        let error = #expect(throws: ModelError.self) {
            let contents = try TensorBundle.read(Self.path(name))
            for tensor in contents.tensors { try tensor.withBytes { _ in } }
        }
        #expect(error.map { String(describing: $0).contains(message) } == true, "\(error.map(String.init(describing:)) ?? "no error")")
        #expect(error.map { !String(describing: $0).contains("\n") } == true)
    }

    @Test func tilingAllowsAnyExactPartition() throws {
        let limits = ReaderLimits()
        let fail = { (reason: String) in ModelError(reason) }
        // Two dimensions cut unevenly (a brick pattern), zero-size slices, a scalar.
        try checkTiling(dims: [4, 4], [([0, 0], [2, 4]), ([2, 0], [2, 1]), ([2, 1], [2, 3]), ([1, 1], [0, 2])], limits: limits, fail: fail)
        try checkTiling(dims: [0, 5], [([0, 0], [0, 5]), ([0, 2], [0, 3])], limits: limits, fail: fail)
        try checkTiling(dims: [], [([], [])], limits: limits, fail: fail)
        #expect(throws: ModelError.self) { try checkTiling(dims: [4, 4], [([0, 0], [2, 4]), ([1, 0], [3, 4])], limits: limits, fail: fail) }
        var small = limits
        small.maxSliceGridCells = 8
        let cells = (0..<9).map { ([$0 / 3, $0 % 3], [1, 1]) }
        try checkTiling(dims: [3, 3], cells, limits: limits, fail: fail)
        #expect(throws: ModelError.self) { try checkTiling(dims: [3, 3], cells, limits: small, fail: fail) }
    }

    /// A `checkpoint` file naming a checkpoint outside its folder (an absolute path left by the writer's machine, or
    /// `..`) resolves to the checkpoint of that name inside the folder, never to the other one.
    @Test(arguments: ["ABSOLUTE/model.ckpt", "../elsewhere/model.ckpt", "ABSOLUTE/other.ckpt"])
    func checkpointFileStaysInsideItsFolder(named: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for dir in ["given", "elsewhere"] {
            try makeFolders(folder.file(dir))
            for name in ["bert_model.ckpt.index", "bert_model.ckpt.data-00000-of-00001"] {
                let target = name.replacing("bert_model", with: dir == "given" ? "model" : "other")
                let file = try AtomicFile(destination: folder.file(dir + "/" + target))
                try file.write(try Samples.bytes("tensorflow/bert-tiny-tf1/" + name))
                try file.commit()
            }
        }
        // elsewhere/ also holds a model.ckpt, which must not be chosen either.
        for name in ["model.ckpt.index", "model.ckpt.data-00000-of-00001"] {
            let file = try AtomicFile(destination: folder.file("elsewhere/" + name))
            try file.write(try Samples.bytes("tensorflow/bert-tiny-tf1/" + name.replacing("model", with: "bert_model")))
            try file.commit()
        }
        let path = named.replacing("ABSOLUTE", with: folder.file("elsewhere"))
        let state = try AtomicFile(destination: folder.file("given/checkpoint"))
        try state.write(Array("model_checkpoint_path: \"\(path)\"\n".utf8))
        try state.commit()
        #expect(try TensorBundle.prefix(for: folder.file("given")) == folder.file("given/model.ckpt"))
    }
}
