import FuzzSupport
import GGUFFormat

/// A GGUF file: the raw reader (metadata, tensor infos, alignment) with every tensor pulled, then the conversion
/// loader the CLI uses (names, config and vocabulary from metadata, dequantized tensors).
let path = Fuzz.scratch("gguf") + "/model.gguf"

@_cdecl("fuzz_gguf_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: path)
    Fuzz.attempt { Fuzz.pull(try GGUFReader.read(path: path).tensors) }
    Fuzz.load(path)
    return 0
}
