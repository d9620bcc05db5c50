import BinaryIO
import ModelIR
import Quantization

/// Reads a model's tensors as fp32 arrays for the forward passes, dequantizing on the fly.
struct Weights {
    let model: Model
    let prefix: String
    private let index: [String: Tensor]

    init(_ model: Model, anchor: String) throws {
        self.model = model
        let index = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.index = index
        let prefixes = [""] + TensorNames.modelPrefixes
        guard let found = prefixes.first(where: { index[$0 + anchor] != nil }) else {
            throw VerifierError("no '\(anchor)' tensor (with or without a bert./roberta./albert. prefix): not a model this verifier runs")
        }
        prefix = found
    }

    func has(_ name: String) -> Bool { index[prefix + name] != nil }

    /// The tensor `prefix + name` as fp32, checking its shape.
    func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let tensor = index[prefix + name] else { throw VerifierError("missing tensor '\(prefix + name)'") }
        if let expected, tensor.shape.dimensions != expected {
            throw VerifierError("tensor '\(prefix + name)' has shape \(tensor.shape), expected \(Shape(expected))")
        }
        return try Self.floats(of: tensor)
    }

    /// Lends the tensor `prefix + name` as fp32 values, checking its shape: the mapped or owned bytes themselves when
    /// they are aligned little-endian f32 (no copy), else a decoded copy.
    func withFloats<R>(_ name: String, shape expected: [Int]? = nil, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        guard let tensor = index[prefix + name] else { throw VerifierError("missing tensor '\(prefix + name)'") }
        if let expected, tensor.shape.dimensions != expected {
            throw VerifierError("tensor '\(prefix + name)' has shape \(tensor.shape), expected \(Shape(expected))")
        }
        #if _endian(little)
        if tensor.dtype == .f32 {
            return try tensor.withBytes { bytes in
                if let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
                    return try bytes.withMemoryRebound(to: Float.self, body)
                }
                return try FloatValues.littleEndian(bytes).withUnsafeBufferPointer(body)
            }
        }
        #endif
        // Other float and block types from one decoded buffer, lent as it is (no copy into an array).
        if FloatValues.decodes(tensor.dtype), let count = tensor.info.elementCount, let expected = tensor.dtype.byteCount(elements: count) {
            // The result boxed in a one-element array, so that a body returning nil is not taken for "not lent".
            let lent: [R]? = try tensor.withBytes { bytes -> [R]? in
                guard bytes.count >= expected else { return nil }
                let decoded = try FloatValues.withValues(UnsafeRawBufferPointer(rebasing: bytes[0..<expected]), from: tensor.dtype) {
                    values -> [R]? in
                    guard values.count >= count else { return nil }
                    return [try body(UnsafeBufferPointer(rebasing: values.prefix(count)))]
                }
                return decoded ?? nil
            }
            if let lent, let value = lent.first { return value }
        }
        return try Self.floats(of: tensor).withUnsafeBufferPointer(body)
    }

    /// `withFloats` for several tensors at once, lent in the order asked.
    func withFloats<R>(_ requests: [(name: String, shape: [Int])], _ body: ([UnsafeBufferPointer<Float>]) throws -> R) throws -> R {
        func lend(_ i: Int, _ lent: [UnsafeBufferPointer<Float>]) throws -> R {
            guard i < requests.count else { return try body(lent) }
            return try withFloats(requests[i].name, shape: requests[i].shape) { try lend(i + 1, lent + [$0]) }
        }
        return try lend(0, [])
    }

    /// Rows `picking` (in that order, repeats allowed) of the 2-D table `prefix + name`, `width` values a row, as
    /// fp32, and the table's row count. Only those rows are decoded when a row is a whole number of the type's
    /// blocks; an id outside the table gives zeros here (the caller checks ids against the row count).
    func rows(_ name: String, width: Int, picking: [Int]) throws -> (count: Int, values: [Float]) {
        guard let tensor = index[prefix + name] else { throw VerifierError("missing tensor '\(prefix + name)'") }
        guard width > 0, let total = tensor.info.elementCount, total % width == 0 else {
            throw VerifierError("embedding tables do not have the config's width \(width)")
        }
        let count = total / width
        var out = [Float](repeating: 0, count: picking.count * width)
        if let rowBytes = tensor.dtype.byteCount(elements: width), tensor.dtype.byteCount(elements: total) == rowBytes * count,
           FloatValues.decodes(tensor.dtype) {
            try tensor.withBytes { bytes in
                guard bytes.count >= rowBytes * count else { throw VerifierError("tensor '\(tensor.name)' is truncated") }
                #if _endian(little)
                if tensor.dtype == .f32, let base = bytes.baseAddress {  // the rows' bytes are the values: copy them
                    out.withUnsafeMutableBytes { destination in
                        for (k, id) in picking.enumerated() where id >= 0 && id < count {
                            (destination.baseAddress! + k * rowBytes).copyMemory(from: base + id * rowBytes, byteCount: rowBytes)
                        }
                    }
                    return
                }
                #endif
                for (k, id) in picking.enumerated() where id >= 0 && id < count {
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[(id * rowBytes)..<((id + 1) * rowBytes)])
                    guard let values = FloatValues.decode(slice, from: tensor.dtype), values.count >= width else {
                        throw VerifierError("tensor '\(tensor.name)': row \(id) cannot be decoded")
                    }
                    for i in 0..<width { out[k * width + i] = values[i] }
                }
            }
            return (count, out)
        }
        let all = try Self.floats(of: tensor)
        guard all.count == total else { throw VerifierError("tensor '\(tensor.name)': \(all.count) of \(total) values") }
        for (k, id) in picking.enumerated() where id >= 0 && id < count {
            for i in 0..<width { out[k * width + i] = all[id * width + i] }
        }
        return (count, out)
    }

    /// Any float tensor (quantized included) as fp32 values; integer tensors as their values.
    static func floats(of tensor: Tensor) throws -> [Float] {
        if let values = try tensor.withBytes({ FloatValues.decode($0, from: tensor.dtype) }) {
            let count = tensor.info.elementCount ?? 0
            return values.count <= count ? values : Array(values.prefix(count))  // no second copy when sizes agree
        }
        if tensor.dtype.isInteger { return try integers(of: tensor).map(Float.init) }
        throw VerifierError("tensor '\(tensor.name)' is \(tensor.dtype.rawValue), which the verifier cannot read yet")
    }

    /// An integer tensor (input ids) as Ints; float tensors holding whole numbers are accepted too.
    static func integers(of tensor: Tensor) throws -> [Int] {
        let count = tensor.info.elementCount ?? 0
        return try tensor.withBytes { bytes in
            func load<T: FixedWidthInteger>(_: T.Type) -> [Int] {
                (0..<count).map { Int(T(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))) }
            }
            switch tensor.dtype {
            case .i64: return load(Int64.self)
            case .i32: return load(Int32.self)
            case .i16: return load(Int16.self)
            case .i8: return load(Int8.self)
            case .u8, .bool: return load(UInt8.self)
            case .u16: return load(UInt16.self)
            case .u32: return load(UInt32.self)
            case .f32, .f64, .f16, .bf16:
                let values = try floats(of: tensor)
                guard values.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e9 }) else {
                    throw VerifierError("input '\(tensor.name)' holds non-integer values")
                }
                return values.map { Int($0) }
            default:
                throw VerifierError("input '\(tensor.name)' has unsupported dtype \(tensor.dtype.rawValue)")
            }
        }
    }
}
