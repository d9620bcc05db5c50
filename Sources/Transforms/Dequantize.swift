import ModelIR
import Quantization

extension Model {
    /// The model with block-quantized tensors expanded to f32 (for outputs that cannot hold them), lazily.
    public func dequantizingBlocks() throws -> Model {
        var result = self
        var count = 0
        result.tensors = try tensors.map { tensor in
            guard tensor.dtype.isQuantized else { return tensor }
            guard BlockQuantizer.types.contains(tensor.dtype) else {
                throw ModelError(location: .tensor(tensor.name), "\(tensor.dtype.rawValue) cannot be dequantized yet (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1)")
            }
            count += 1
            let source = tensor
            return Tensor(name: tensor.name, dtype: .f32, shape: tensor.shape, data: .producer {
                try source.withBytes { BlockQuantizer.dequantize($0, from: source.dtype) }
            })
        }
        if count > 0 { result.notes.append("dequantized \(count) block-quantized tensors to f32 (the output format cannot hold them)") }
        return result
    }
}
