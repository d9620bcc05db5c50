import ModelIR

/// Emits the protocol-2 `data.pkl` of a state dict, the way `torch.save` lays it out (§2.3, §2.7):
/// an OrderedDict of `_rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())` records, one
/// storage per tensor, keys "0", "1", …; types without a legacy storage class use `_rebuild_tensor_v3`.
struct PickleWriter {
    private(set) var bytes: [UInt8] = [0x80, 0x02]

    mutating func global(_ module: String, _ name: String) {
        bytes.append(UInt8(ascii: "c"))
        bytes += Array((module + "\n" + name + "\n").utf8)
    }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes.append(UInt8(ascii: "X"))
        withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes += $0 }
        bytes += utf8
    }

    mutating func int(_ value: Int) {
        if value >= 0, value < 256 {
            bytes += [UInt8(ascii: "K"), UInt8(value)]
        } else if value >= 0, value < 65536 {
            bytes.append(UInt8(ascii: "M"))
            withUnsafeBytes(of: UInt16(value).littleEndian) { bytes += $0 }
        } else if let small = Int32(exactly: value) {
            bytes.append(UInt8(ascii: "J"))
            withUnsafeBytes(of: small.littleEndian) { bytes += $0 }
        } else {
            bytes += [0x8A, 8]  // LONG1, 8 bytes two's complement
            withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 }
        }
    }

    mutating func tuple(_ items: [Int]) {
        switch items.count {
        case 0: bytes.append(UInt8(ascii: ")"))
        case 1...3:
            items.forEach { int($0) }
            bytes.append(0x84 + UInt8(items.count))
        default:
            bytes.append(UInt8(ascii: "("))
            items.forEach { int($0) }
            bytes.append(UInt8(ascii: "t"))
        }
    }

    mutating func emptyOrderedDict() {
        global("collections", "OrderedDict")
        bytes += [UInt8(ascii: ")"), UInt8(ascii: "R")]
    }

    /// The whole state dict. `storageKey` is the record name of each tensor's storage.
    static func stateDict(_ tensors: [TensorInfo]) throws -> [UInt8] {
        var w = PickleWriter()
        w.emptyOrderedDict()
        for batch in stride(from: 0, to: tensors.count, by: 1000) {
            w.bytes.append(UInt8(ascii: "("))
            for (offset, info) in tensors[batch..<min(tensors.count, batch + 1000)].enumerated() {
                let key = String(batch + offset)
                guard let count = info.elementCount else { throw ModelError(location: .tensor(info.name), "shape overflows") }
                w.string(info.name)
                let legacy = torchStorageName(info.dtype)
                guard legacy != nil || torchDTypeName(info.dtype) != nil else {
                    throw ModelError(location: .tensor(info.name), "\(info.dtype.rawValue) cannot be stored in a PyTorch checkpoint")
                }
                w.global("torch._utils", legacy != nil ? "_rebuild_tensor_v2" : "_rebuild_tensor_v3")
                w.bytes.append(UInt8(ascii: "("))
                // Persistent id ('storage', type, key, 'cpu', numel), then BINPERSID.
                w.bytes.append(UInt8(ascii: "("))
                w.string("storage")
                if let legacy {
                    w.global("torch", legacy)
                } else {
                    w.global("torch.storage", "UntypedStorage")
                }
                w.string(key)
                w.string("cpu")
                w.int(legacy != nil ? count : count * info.dtype.blockBytes)
                w.bytes += [UInt8(ascii: "t"), UInt8(ascii: "Q")]
                w.int(0)
                w.tuple(info.shape.dimensions)
                w.tuple(rowMajorStrides(info.shape.dimensions))
                w.bytes.append(0x89)  // requires_grad = False
                w.emptyOrderedDict()
                if legacy == nil, let name = torchDTypeName(info.dtype) { w.global("torch", name) }
                w.bytes += [UInt8(ascii: "t"), UInt8(ascii: "R")]
            }
            w.bytes.append(UInt8(ascii: "u"))
        }
        w.bytes.append(UInt8(ascii: "."))
        return w.bytes
    }
}
