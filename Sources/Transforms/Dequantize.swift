import ModelIR
import Quantization

extension Model {
    /// The model with block-quantized tensors expanded to f32 (for outputs that cannot hold them), lazily.
    public func dequantizingBlocks() throws -> Model {
        var result = self
        var count = 0
        result.tensors = try tensors.map { tensor in
            guard tensor.dtype.isQuantized else { return tensor }
            guard tensor.dtype == .q8_0 else {
                throw ModelError(location: .tensor(tensor.name), "\(tensor.dtype.rawValue) cannot be dequantized yet (Q8_0 only)")
            }
            count += 1
            let source = tensor
            return Tensor(name: tensor.name, dtype: .f32, shape: tensor.shape, data: .producer {
                try source.withBytes { Q8_0.dequantize($0) }
            })
        }
        if count > 0 { result.notes.append("dequantized \(count) Q8_0 tensors to f32 (the output format cannot hold them)") }
        return result
    }
}
