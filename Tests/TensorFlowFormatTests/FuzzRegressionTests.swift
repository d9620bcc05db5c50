import BinaryIO
import ModelIR
import TensorFlowFormat
import TestSupport
import Testing

/// Inputs found by `make fuzz` (fuzz-tf-bundle), kept in `Samples/broken/fuzz/tf-bundle/<case>/model.ckpt.index` and
/// read beside the data shards the fuzzer laid out (Samples/tensorflow/bert-tiny-sharded's, linked here): each must
/// be one thrown error, not a trap.
@Suite struct TensorBundleFuzzRegressionTests {
    static let cases: [(String, String)] = [
        // An entry's shard_id 5 in a 2-shard checkpoint indexed the shard table out of range (a trap).
        ("shard-id-out-of-range", "tensor 'bert/encoder/layer_0/output/dense/kernel': shard_id 5 is outside the checkpoint's 2 shards"),
    ]

    @Test(arguments: cases)
    func rejectsFuzzFinding(name: String, message: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for id in 0..<2 {
            let shard = "data-0000\(id)-of-00002"
            #expect(symlink(Samples.path("tensorflow/bert-tiny-sharded/bert_model.ckpt." + shard), folder.file("model.ckpt." + shard)) == 0)
        }
        #expect(symlink(Samples.path("broken/fuzz/tf-bundle/\(name)/model.ckpt.index"), folder.file("model.ckpt.index")) == 0)
        #expect {
            let contents = try TensorBundle.read(folder.file("model.ckpt"))
            for tensor in contents.tensors { try tensor.withBytes { _ in } }
        } throws: { error in
            error is ModelError && String(describing: error).contains(message)
        }
    }
}
