import ModelIR
import Quantization

extension Model {
    /// The model with every float tensor (f64, f32, f16, bf16) cast to `dtype`, lazily: each cast runs when
    /// a writer pulls the tensor. Integer and boolean tensors (`position_ids`) keep their type.
    public func casting(to dtype: DType) throws -> Model {
        guard FloatCast.supported.contains(dtype) else {
            throw ModelError(kind: .unsupported, "a cast to \(dtype.rawValue) is not available; casts: f32, f16, bf16, f64")
        }
        var result = self
        result.tensors = tensors.map { tensor in
            guard FloatCast.supported.contains(tensor.dtype), tensor.dtype != dtype else { return tensor }
            let source = tensor
            return Tensor(name: tensor.name, dtype: dtype, shape: tensor.shape, data: .producer {
                try source.withBytes { FloatCast.convert($0, from: source.dtype, to: dtype) }
            })
        }
        return result
    }
}
