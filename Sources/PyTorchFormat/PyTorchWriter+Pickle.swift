import ModelIR
import Pickle

extension PyTorchWriter {
    /// The protocol-2 `data.pkl` of a state dict, laid out as `torch.save` lays it out (`torch/serialization.py`
    /// `_save`, `torch/_utils.py` `_rebuild_tensor_v2`): an OrderedDict of
    /// `_rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())` records, one storage per tensor, keys
    /// "0", "1", …; types without a legacy storage class use `_rebuild_tensor_v3` and an `UntypedStorage`.
    static func stateDictPickle(_ tensors: [TensorInfo]) throws -> [UInt8] {
        var w = try PickleWriter(version: 2)
        try emptyOrderedDict(&w)
        for batch in stride(from: 0, to: tensors.count, by: 1000) {  // SETITEMS in batches of 1000, as pickle.py does
            try w.mark()
            for (offset, info) in tensors[batch..<min(tensors.count, batch + 1000)].enumerated() {
                let key = String(batch + offset)
                guard let count = info.elementCount else { throw ModelError(location: .tensor(info.name), "shape overflows") }
                try w.string(info.name)
                let legacy = torchStorageName(info.dtype)
                guard legacy != nil || torchDTypeName(info.dtype) != nil else {
                    throw ModelError(location: .tensor(info.name), "\(info.dtype.rawValue) cannot be stored in a PyTorch checkpoint")
                }
                try w.global("torch._utils", legacy != nil ? "_rebuild_tensor_v2" : "_rebuild_tensor_v3")
                try w.mark()
                // Persistent id ('storage', type, key, 'cpu', numel), then BINPERSID.
                try w.mark()
                try w.string("storage")
                if let legacy {
                    try w.global("torch", legacy)
                } else {
                    try w.global("torch.storage", "UntypedStorage")
                }
                try w.string(key)
                try w.string("cpu")
                try w.int(legacy != nil ? count : count * info.dtype.blockBytes)
                try w.tuple()
                try w.binPersId()
                try w.int(0)
                try w.tuple(info.shape.dimensions)
                try w.tuple(rowMajorStrides(info.shape.dimensions))
                try w.newFalse()  // requires_grad
                try emptyOrderedDict(&w)
                if legacy == nil, let name = torchDTypeName(info.dtype) { try w.global("torch", name) }
                try w.tuple()
                try w.reduce()
            }
            try w.setItems()
        }
        try w.stop()
        return w.bytes
    }

    /// `collections.OrderedDict()`.
    private static func emptyOrderedDict(_ w: inout PickleWriter) throws {
        try w.global("collections", "OrderedDict")
        try w.emptyTuple()
        try w.reduce()
    }
}
