import FuzzSupport

/// A PyTorch checkpoint, zip (torch.save since 1.6) or legacy (pickle + storages), as `pytorch_model.bin`.
let path = Fuzz.scratch("pytorch") + "/pytorch_model.bin"

@_cdecl("fuzz_pytorch_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: path)
    Fuzz.load(path)
    return 0
}
