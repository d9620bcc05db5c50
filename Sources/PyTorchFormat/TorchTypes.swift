import ModelIR
import Pickle

/// The globals a `torch.save` pickle may name (the allowlist of `torch/_weights_only_unpickler.py`, without the quantized and
/// sparse rebuilders ModelPort cannot represent). Nothing named here is ever called.
let torchAllowedGlobals: Set<String> = {
    var names: Set<String> = [
        "collections.OrderedDict", "builtins.set", "builtins.frozenset", "builtins.bytearray", "_codecs.encode",
        "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "torch._tensor._rebuild_from_type_v2", "torch.nn.parameter.Parameter", "torch.Tensor", "torch.Size",
        "torch.device", "torch.serialization._get_layout",
    ]
    for storage in storageTypes.keys { names.insert("torch." + storage) }
    names.insert("torch.UntypedStorage")
    names.insert("torch.storage.UntypedStorage")
    names.insert("torch.storage.TypedStorage")
    for dtype in torchDTypes.keys { names.insert("torch." + dtype) }
    return names
}()

/// Legacy typed storages and their element types (the `_LegacyStorage` classes of `torch/__init__.py`).
let storageTypes: [String: DType] = [
    "DoubleStorage": .f64, "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16,
    "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8, "ByteStorage": .u8,
    "BoolStorage": .bool,
]

/// `torch.<dtype>` globals (the 7th argument of `_rebuild_tensor_v3`).
let torchDTypes: [String: DType] = [
    "float64": .f64, "float32": .f32, "float16": .f16, "bfloat16": .bf16, "int64": .i64, "int32": .i32,
    "int16": .i16, "int8": .i8, "uint8": .u8, "bool": .bool, "uint16": .u16, "uint32": .u32, "uint64": .u64,
    "float8_e4m3fn": .f8E4M3, "float8_e5m2": .f8E5M2, "double": .f64, "float": .f32, "half": .f16, "long": .i64,
    "int": .i32, "short": .i16,
]

/// The storage class and dtype names `--to pytorch` writes.
func torchStorageName(_ dtype: DType) -> String? { storageTypes.first { $0.value == dtype }?.key }
func torchDTypeName(_ dtype: DType) -> String? {
    ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool", "uint16", "uint32",
     "uint64", "float8_e4m3fn", "float8_e5m2"].first { torchDTypes[$0] == dtype }
}
