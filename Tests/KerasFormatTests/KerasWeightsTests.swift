import BinaryIO
import CHDF5
@testable import KerasFormat
import ModelIR
import SafetensorsFormat
import TestSupport
import Testing

/// Every tensor of `model` equals the PyTorch reference it was made from, name for name and byte for byte.
func expectEqualToReference(_ model: Model, reference: String) throws {
    let (expected, _) = try SafetensorsReader.read(path: Samples.path("keras-flax/reference/\(reference).safetensors"))
    #expect(try tensorMismatches(model, expected: expected) == [])
}

@Suite struct KerasWeightsTests {
    /// tf_model.h5 files written by transformers 4.46.3's TF classes from seeded PyTorch models.
    @Test(arguments: [("bert-tf", "bert"), ("albert-tf", "albert"), ("bert-cls-tf", "bert-cls"), ("bert-mlm-tf", "bert-mlm"),
                      ("bert-qa-tf", "bert-qa")])
    func readsTransformersTFWeightsAsThePyTorchWeightsTheyCameFrom(folder: String, reference: String) throws {
        let model = try KerasWeights.read(path: Samples.path("keras-flax/\(folder)/tf_model.h5"))
        try expectEqualToReference(model, reference: reference)
    }

    /// libhdf5 is loaded with dlopen when a Keras file is read, not linked (Sources/CHDF5/hdf5.c): a machine without
    /// it gets one line naming the package to install, and every other format still works there.
    @Test func aMissingHDF5LibraryIsOneLineNamingThePackage() {
        var message = [CChar](repeating: 0, count: 512)
        #expect(modelport_h5_check_library("libhdf5-not-installed.so.0", &message, message.count) == -1)
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(text.contains("libhdf5-103-1"))
        #expect(text.hasPrefix("reading a Keras .h5 file needs the HDF5 library"))
        #expect(!text.contains("\n"))
    }

    @Test func theInstalledHDF5LibraryLoadsAndMatchesTheHeaders() {
        #expect(modelport_h5_load() == 0, "\(String(cString: modelport_h5_load_error()))")
    }

    @Test func contiguousDatasetsAreMappedNotCopied() throws {
        let (tensors, _) = try KerasWeights.readTensors(path: Samples.path("keras-flax/bert-tf/tf_model.h5"))
        #expect(tensors.count == 39)
        #expect(tensors.allSatisfy { $0.data.isMapped })
        #expect(tensors.contains { $0.name == "tf_bert_model/bert/encoder/layer_._1/attention/self/query/kernel:0" })
    }

    @Test func aTiedWeightListedByTwoLayersIsReadOnce() throws {
        let (tensors, notes) = try KerasWeights.readTensors(path: Samples.path("keras-flax/bert-mlm-tf/tf_model.h5"))
        #expect(tensors.filter { $0.name.hasSuffix("word_embeddings/weight:0") }.count == 1)
        #expect(notes.contains { $0.text.contains("tied") })
    }

    @Test(arguments: [
        ("tf_bert_model/bert/encoder/layer_._3/attention/self/query/kernel:0", "bert.encoder.layer.3.attention.self.query.weight", true),
        ("tf_bert_for_masked_lm/mlm___cls/predictions/transform/LayerNorm/gamma:0", "cls.predictions.transform.LayerNorm.weight", false),
        ("tf_bert_model/bert/embeddings/position_embeddings/embeddings:0", "bert.embeddings.position_embeddings.weight", false),
        ("tf_albert_model/albert/encoder/albert_layer_groups_._0/albert_layers_._0/ffn/bias:0",
         "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.bias", false),
        ("tf_bert_for_pre_training/nsp___cls/seq_relationship/kernel:0", "cls.seq_relationship.weight", true),
    ])
    func namesFollowTransformersTFToPyTorchRules(keras: String, pytorch: String, transpose: Bool) {
        let (name, transposed) = KerasWeights.pytorchName(keras)
        #expect(name == pytorch)
        #expect(transposed == transpose)
    }

    @Test func aCompressedDatasetIsReadThroughTheLibrary() throws {
        let (tensors, _) = try KerasWeights.readTensors(path: Samples.path("keras-flax/hostile/compressed.h5"))
        let tensor = try #require(tensors.first)
        #expect(!tensor.data.isMapped)
        #expect(tensor.shape == [2, 3])
        let values = try tensor.withBytes { bytes in (0..<6).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        #expect(values == [0, 1, 2, 3, 4, 5])
    }

    static let hostile: [(String, String)] = [
        ("external-link.h5", "'/dense/model': is a soft, external or user-defined link"),
        ("soft-link.h5", "'/dense/model': is a soft, external or user-defined link"),
        ("external-storage.h5", "keeps its data in 1 external file(s)"),
        ("virtual-dataset.h5", "is a virtual dataset"),
        ("string-weight.h5", "holds neither numbers nor floats"),
    ]

    @Test(arguments: hostile)
    func refusesHostileFilesWithOneClearError(file: String, reason: String) throws {
        let path = Samples.path("keras-flax/hostile/" + file)
        let error = try #require(throws: ModelError.self) { try KerasWeights.readTensors(path: path) }
        #expect(error.file == path)
        #expect(error.description.contains(reason), "\(error)")
        #expect(!error.description.contains("\n"))
    }

    /// Group structures and storage that attack the walk or the library's decoders (Samples/broken/hostile/keras/).
    static let hostileStructure: [(String, String, ModelError.Kind)] = [
        ("hard-link-cycle.h5", "'/dense/model/dense/loop': is a group reached a second time", .malformed),
        ("shared-group.h5", "'/dense/model/dense': is a group reached a second time", .malformed),
        ("deep-groups.h5", "nests groups more than 64 deep", .limitExceeded),
        ("lzf-filter.h5", "uses HDF5 filter 32000", .unsupported),
        ("scaleoffset-filter.h5", "uses HDF5 filter 6", .unsupported),
        ("huge-chunk.h5", "has chunks of 4194304 elements", .limitExceeded),
    ]

    @Test(arguments: hostileStructure)
    func refusesHostileStructuresWithOneClearError(file: String, reason: String, kind: ModelError.Kind) throws {
        let path = Samples.path("broken/hostile/keras/" + file)
        let error = try #require(throws: ModelError.self) { try KerasWeights.readTensors(path: path) }
        #expect(error.file == path)
        #expect(error.kind == kind)
        #expect(error.description.contains(reason), "\(error)")
        #expect(!error.description.contains("\n"))
    }

    /// The fuzz-keras inputs that crashed (heap-buffer-overflow, SEGV) or hung libhdf5 1.10.8 in H5HG_read while
    /// H5Aread read the variable-length `layer_names`. Names now come from the datasets' paths and that value is
    /// never read, so the damaged global heap is never touched; the mutations also damaged a group's link storage,
    /// which the walk reports as one error, promptly.
    @Test(arguments: [("vlen-heap-overflow.h5", "'/albert'"), ("vlen-segv.h5", "'/albert/tf_albert_model'"), ("vlen-timeout.h5", "/")])
    func aDamagedGlobalHeapIsNeverRead(file: String, group: String) throws {
        let path = Samples.path("broken/fuzz/keras/libhdf5/" + file)
        let start = ContinuousClock.now
        let error = try #require(throws: ModelError.self) { try KerasWeights.read(path: path) }
        #expect(error.file == path)
        #expect(error.description.contains("\(group): is not a group whose links can be listed"), "\(error)")
        #expect(!error.description.contains("\n"))
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    /// A fuzz-keras input on which libhdf5 1.10.8 itself segfaults (H5Literate → H5G__stab_iterate →
    /// H5F__accum_read, a damaged symbol-table group): the library runs on it first in a child process
    /// (`HDF5File.isolatedCheck`), whose crash becomes one `.malformed` error here; this test process survives.
    @Test func aCrashInsideTheLibraryIsAnErrorNotACrash() throws {
        let path = Samples.path("broken/fuzz/keras/libhdf5/stab-iterate-segv.h5")
        let start = ContinuousClock.now
        let error = try #require(throws: ModelError.self) { try KerasWeights.read(path: path) }
        #expect(error.file == path)
        #expect(error.kind == .malformed)
        #expect(error.description.contains("the HDF5 library failed on this file (signal "), "\(error)")
        #expect(!error.description.contains("\n"))
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    /// A child that does not finish in time is killed and the file refused (a time limit of 0 ms stands in for a
    /// file on which the library loops); a child that finishes lets the reader go on.
    @Test func aLibraryThatDoesNotAnswerInTimeIsAnError() throws {
        let path = Samples.path("keras-flax/bert-tf/tf_model.h5")
        // Held as HDF5File.init holds it: no other test's thread is inside the library when the check forks.
        try hdf5Lock.withLock { _ in try HDF5File.isolatedCheck(path: path, fileSize: 0, limits: ReaderLimits()) }
        let error = try #require(throws: ModelError.self) {
            try hdf5Lock.withLock { _ in try HDF5File.isolatedCheck(path: path, fileSize: 0, limits: ReaderLimits(), timeoutMs: 0) }
        }
        #expect(error.file == path)
        #expect(error.kind == .malformed)
        #expect(error.description.contains("the HDF5 library failed on this file (no answer after 0 ms"), "\(error)")
    }

    /// Without reading `layer_names` / `weight_names`, the weights still come in the order tf-keras wrote them
    /// (layer by layer, each layer's weights as listed), which outputs that keep the model's order (GGUF) show.
    @Test func weightsComeInTheOrderTheyWereWritten() throws {
        let (tensors, _) = try KerasWeights.readTensors(path: Samples.path("keras-flax/bert-cls-tf/tf_model.h5"))
        let names = tensors.map(\.name)
        #expect(Array(names.prefix(3)) == [
            "tf_bert_for_sequence_classification/bert/embeddings/word_embeddings/weight:0",
            "tf_bert_for_sequence_classification/bert/embeddings/token_type_embeddings/embeddings:0",
            "tf_bert_for_sequence_classification/bert/embeddings/position_embeddings/embeddings:0",
        ])
        #expect(Array(names.suffix(2)) == ["tf_bert_for_sequence_classification/classifier/kernel:0", "tf_bert_for_sequence_classification/classifier/bias:0"])
        let layer0 = try #require(names.firstIndex { $0.contains("layer_._0/") })
        let layer1 = try #require(names.firstIndex { $0.contains("layer_._1/") })
        #expect(layer0 < layer1)
        #expect(names == (try KerasWeights.readTensors(path: Samples.path("keras-flax/bert-cls-tf/tf_model.h5"))).tensors.map(\.name))
    }

    @Test func pathsTieBreakInNaturalOrder() {
        #expect(naturalOrder("layer_._2", "layer_._10"))
        #expect(!naturalOrder("layer_._10", "layer_._2"))
        #expect(naturalOrder("a1", "a01") != naturalOrder("a01", "a1"))
        #expect(naturalOrder("LayerNorm", "dense"))
        #expect(naturalOrder("layer", "layer_._0"))
    }

    @Test func moreLinksThanTheCapIsALimitError() throws {
        var limits = ReaderLimits()
        limits.maxTensors = 20
        let path = Samples.path("keras-flax/bert-tf/tf_model.h5")
        let error = try #require(throws: ModelError.self) {
            try ReaderLimits.$current.withValue(limits) { try KerasWeights.readTensors(path: path) }
        }
        #expect(error.kind == .limitExceeded)
        #expect(error.reason.contains("more than 20 links"))
    }

    @Test func aNameNoRuleKnowsIsKeptWithANoteOrRefusedWhenStrict() throws {
        let path = Samples.path("broken/hostile/keras/unknown-name.h5")
        let model = try KerasWeights.read(path: path)
        #expect(model["norm.moving_mean"] != nil)
        #expect(model["dense.weight"]?.shape == [3, 2])
        #expect(model.notes.contains { $0.kind == .naming && $0.text.contains("moving_mean:0") })
        let error = try #require(throws: ModelError.self) { try KerasWeights.read(path: path, strict: true) }
        #expect(error.location == .tensor("model/norm/moving_mean:0"))
        #expect(error.reason.contains("matches no Keras naming rule"))
    }

    @Test func aListedWeightWithoutADatasetIsNotInvented() throws {
        // weight_names lists model/dense/kernel:0, but no dataset is there: the names come from the datasets.
        let (tensors, notes) = try KerasWeights.readTensors(path: Samples.path("keras-flax/hostile/missing-dataset.h5"))
        #expect(tensors.isEmpty)
        #expect(notes.contains { $0.text.contains("no weights") })
    }

    @Test func aTruncatedFileIsAnErrorNotACrash() throws {
        let path = Samples.path("keras-flax/hostile/truncated.h5")
        let error = try #require(throws: ModelError.self) {
            let (tensors, _) = try KerasWeights.readTensors(path: path)
            for tensor in tensors { _ = try tensor.withBytes { $0.count } }
        }
        #expect(error.file == path)
    }

    /// A fuzz-keras finding whose object header makes the library ask for ~4.7 EB: an open error, not a crash (under
    /// AddressSanitizer the allocation itself aborts, inside libhdf5).
    @Test func aHeaderAskingForExabytesIsAnOpenError() throws {
        let path = Samples.path("broken/fuzz/keras/huge-cache-allocation.h5")
        let error = try #require(throws: ModelError.self) { try KerasWeights.readTensors(path: path) }
        #expect(error.file == path)
    }

    /// fuzz-keras findings (after the walk replaced the attribute reads) whose object headers or group heaps make
    /// libhdf5's metadata cache (H5C_protect) ask for 2^40–2^64 bytes: under AddressSanitizer that allocation aborts
    /// inside the library; in a normal build the allocation fails and the library reports an error, one line here.
    @Test(arguments: [("cache-allocation-open.h5", "the HDF5 library cannot open it"),
                      ("cache-allocation-group.h5", "'/top_level_model_weights': cannot be opened"),
                      ("cache-allocation-links.h5", "is not a group whose links can be listed")])
    func metadataAskingForHugeAllocationsIsAnError(file: String, reason: String) throws {
        let path = Samples.path("broken/fuzz/keras/" + file)
        let error = try #require(throws: ModelError.self) { try KerasWeights.readTensors(path: path) }
        #expect(error.file == path)
        #expect(error.description.contains(reason), "\(error)")
    }

    @Test func keras3FilesAreNamedInTheError() throws {
        let path = Samples.path("keras-flax/keras3/model.weights.h5")
        let error = try #require(throws: ModelError.self) { try KerasWeights.readTensors(path: path) }
        #expect(error.reason.contains("Keras 3 weights file"))
    }

    @Test func recognizesTheSignatureAfterAUserBlock() {
        var bytes = [UInt8](repeating: 0, count: 1100)
        bytes.replaceSubrange(1024..<1032, with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(bytes.withUnsafeBytes { KerasWeights.recognizes($0) })
        bytes[1024] = 0
        #expect(!bytes.withUnsafeBytes { KerasWeights.recognizes($0) })
    }
}
