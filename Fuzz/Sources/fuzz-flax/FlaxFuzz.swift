import FuzzSupport
import FlaxFormat

/// A Flax checkpoint (flax_model.msgpack): the MessagePack parser and array payloads with every tensor pulled,
/// then the conversion loader the CLI uses.
let path = Fuzz.scratch("flax") + "/flax_model.msgpack"

@_cdecl("fuzz_flax_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: path)
    Fuzz.attempt { Fuzz.pull(try FlaxCheckpoint.read(path: path).tensors) }
    Fuzz.load(path)
    return 0
}
