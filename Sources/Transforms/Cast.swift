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
            let source = tensor
            return Tensor(name: tensor.name, dtype: dtype, shape: tensor.shape, data: .producer {
                // The source is read in pieces whose pages are released as soon as they are cast, so a cast holds
                // its output and one piece of its input.
                guard let count = source.info.elementCount, let bytes = dtype.byteCount(elements: count) else {
                    throw ModelError(location: .tensor(source.name), "shape \(source.shape) has no valid byte size")
                }
                let width = source.dtype.blockBytes
                var output: TensorBuffer?
                try source.withPieces(of: Model.castPiece) { offset, piece in
                    // Allocated once the source's byte count has been checked against its shape.
                    let buffer = output ?? TensorBuffer(count: bytes)
                    output = buffer
                    let at = offset / width * dtype.blockBytes
                    buffer.withMutableBytes { destination in
                        FloatCast.convert(piece, from: source.dtype, into: UnsafeMutableRawBufferPointer(
                            rebasing: destination[at..<(at + piece.count / width * dtype.blockBytes)]), to: dtype)
                    }
                }
                return output ?? TensorBuffer(count: 0)
            })
        }
        return result
    }

    /// The bytes of source a cast reads at a time: a whole number of elements of every float type.
    static let castPiece = 8 << 20
}
