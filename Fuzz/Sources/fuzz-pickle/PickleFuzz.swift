import FuzzSupport
import Pickle

/// The non-executing unpickler on its own, with the globals a PyTorch checkpoint may name (the list mirrors
/// PyTorchFormat's allowlist) and a persistent loader that hands back its id, as the readers' loaders do.
let globals: Set<String> = [
    "collections.OrderedDict", "builtins.set", "builtins.frozenset", "builtins.bytearray", "_codecs.encode",
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
    "torch._tensor._rebuild_from_type_v2", "torch.nn.parameter.Parameter", "torch.Tensor", "torch.Size",
    "torch.device", "torch.FloatStorage", "torch.HalfStorage", "torch.LongStorage", "torch.UntypedStorage",
    "torch.float32", "numpy.core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
]

@_cdecl("fuzz_pickle_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    Fuzz.attempt {
        let (value, end) = try Unpickler.load(bytes, file: "fuzz.pkl", options: .init(allowedGlobals: globals)) { pid, _ in pid }
        Fuzz.blackHole((value, end))
    }
    return 0
}
