import FuzzSupport
import ModelIR
import ONNXFormat

/// An ONNX graph (model.onnx): the protobuf framing, the initializers' raw data and external-data references with
/// every tensor pulled, then the conversion loader the CLI uses.
let path = Fuzz.scratch("onnx") + "/model.onnx"

@_cdecl("fuzz_onnx_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: path)
    Fuzz.attempt { Fuzz.pull(try ONNXSource().read(path, options: ReadOptions()).tensors) }
    Fuzz.load(path)
    return 0
}
