import FuzzSupport

/// A safetensors file (header JSON, offsets, tensor bytes), read as `modelport inspect model.safetensors` reads it.
let path = Fuzz.scratch("safetensors") + "/model.safetensors"

@_cdecl("fuzz_safetensors_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: path)
    Fuzz.load(path)
    return 0
}
