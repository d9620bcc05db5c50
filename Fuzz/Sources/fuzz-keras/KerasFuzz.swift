import FuzzSupport
import KerasFormat

/// A Keras HDF5 weights file (tf_model.h5): the reader (HDF5 library, links, layouts, attributes) with every
/// tensor pulled, then the conversion loader the CLI uses.
let path = Fuzz.scratch("keras") + "/tf_model.h5"

@_cdecl("fuzz_keras_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: path)
    Fuzz.attempt { Fuzz.pull(try KerasWeights.readTensors(path: path).tensors) }
    Fuzz.load(path)
    return 0
}
