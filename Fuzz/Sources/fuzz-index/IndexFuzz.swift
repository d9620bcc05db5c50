import FuzzSupport

/// A sharded checkpoint's index JSON (`model.safetensors.index.json` or `pytorch_model.bin.index.json`), beside the
/// real shards of Samples/bert-tiny-sharded and Samples/pytorch/bert-tiny-sharded, so names the index gives resolve.
let folder: String = {
    let folder = Fuzz.scratch("index")
    for i in 1...10 {
        let name = "model-\(i < 10 ? "0000" : "000")\(i)-of-00010.safetensors"
        Fuzz.copySample("bert-tiny-sharded/" + name, to: folder + "/" + name)
    }
    for name in ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"] {
        Fuzz.copySample("pytorch/bert-tiny-sharded/" + name, to: folder + "/" + name)
    }
    return folder
}()

@_cdecl("fuzz_index_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let path = folder + "/model.safetensors.index.json"
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: path)
    Fuzz.load(path)
    return 0
}
