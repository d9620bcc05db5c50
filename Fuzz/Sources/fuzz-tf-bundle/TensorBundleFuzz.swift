import FuzzSupport

/// A TensorFlow checkpoint's `.index` (SSTable of BundleEntryProtos: dtype, shape, shard, offset, size, CRC32C,
/// slices), beside the real data shards of Samples/tensorflow/bert-tiny-tf1 (one shard) and bert-tiny-sharded (two),
/// read as `modelport inspect folder/model.ckpt` reads it.
let folder: String = {
    let folder = Fuzz.scratch("tf-bundle")
    Fuzz.copySample("tensorflow/bert-tiny-tf1/bert_model.ckpt.data-00000-of-00001", to: folder + "/model.ckpt.data-00000-of-00001")
    Fuzz.copySample("tensorflow/bert-tiny-sharded/bert_model.ckpt.data-00000-of-00002", to: folder + "/model.ckpt.data-00000-of-00002")
    Fuzz.copySample("tensorflow/bert-tiny-sharded/bert_model.ckpt.data-00001-of-00002", to: folder + "/model.ckpt.data-00001-of-00002")
    Fuzz.copySample("tensorflow/bert-tiny-tf1/bert_config.json", to: folder + "/bert_config.json")
    return folder
}()

@_cdecl("fuzz_tf_bundle_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: folder + "/model.ckpt.index")
    Fuzz.load(folder + "/model.ckpt")
    return 0
}
