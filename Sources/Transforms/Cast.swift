import BinaryIO
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
            return tensor.cast(to: dtype)
        }
        return result
    }

    /// The bytes of source a cast reads at a time: a whole number of elements of every float type.
    static let castPiece = 8 << 20
}

extension Tensor {
    /// The float tensor cast to the float type `dtype` (f64, f32, f16, bf16; round to nearest even, NaN and ±Inf kept),
    /// lazily and streamed (`TensorData.streamed`): the source is read 8 MB at a time (its pages released as each piece
    /// is cast) and each piece's result handed to the writer, so a cast holds one piece of its input and of its output.
    /// - Precondition: both types are float types `FloatCast` converts.
    public func cast(to dtype: DType) -> Tensor {
        let source = self
        guard let count = info.elementCount, let bytes = dtype.byteCount(elements: count) else {
            return Tensor(name: name, dtype: dtype, shape: shape, data: .producer {
                throw ModelError(location: .tensor(source.name), "shape \(source.shape) has no valid byte size")
            })
        }
        let width = source.dtype.blockBytes
        let piece = Model.castPiece / width * width
        return Tensor(name: name, dtype: dtype, shape: shape, data: .streamed(count: bytes) { emit in
            try Scratch.withBuffer(bytes: min(bytes, piece / width * dtype.blockBytes)) { output in
                try source.withPieces(of: piece) { _, input in
                    let cast = UnsafeMutableRawBufferPointer(rebasing: output[0..<(input.count / width * dtype.blockBytes)])
                    FloatCast.convert(input, from: source.dtype, into: cast, to: dtype)
                    try emit(UnsafeRawBufferPointer(cast))
                }
            }
        })
    }
}
