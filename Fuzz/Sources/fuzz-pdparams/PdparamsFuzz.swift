import FuzzSupport

/// A `paddle.save` state dict (`.pdparams`: a pickle of numpy arrays, split big arrays included).
let path = Fuzz.scratch("pdparams") + "/model_state.pdparams"

@_cdecl("fuzz_pdparams_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: path)
    Fuzz.load(path)
    return 0
}
