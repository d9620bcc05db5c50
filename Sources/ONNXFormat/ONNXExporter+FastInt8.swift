import ModelIR

extension EncoderGraph {
    /// `x · Wᵀ + b` for an int8 Linear, written exactly as ONNX Runtime's session optimizer fuses it:
    ///
    ///     DynamicQuantizeLinear(x) → (x_q, x_scale, x_zero)
    ///     MatMulInteger(x_q, W_q, x_zero) → Cast(to float) → Mul(·, Mul(x_scale, W_scale)) → Add(·, bias)
    ///
    /// `MatMulIntegerToFloatFusion` (onnxruntime/core/optimizer/matmul_integer_to_float.cc) turns the MatMulInteger,
    /// its Cast, the scale Mul (inputs A's scale then B's scale) and the outer Mul, plus an Add whose input 1 is a
    /// constant 1-D bias longer than 1, into `com.microsoft.MatMulIntegerToFloat`; it needs the MatMulInteger, the
    /// Cast and the scale Mul to have one consumer each. `DynamicQuantizeMatMulFusion`
    /// (dynamic_quantize_matmul_fusion.cc) then folds the DynamicQuantizeLinear into `DynamicQuantizeMatMul` when B and
    /// its scale are constant initializers and the DynamicQuantizeLinear's three outputs have exactly three consumers:
    /// so every Linear quantizes its input with its own DynamicQuantizeLinear. ORT's common-subexpression elimination
    /// still merges the three of Q, K and V (one input), which then run as one DynamicQuantizeLinear and three
    /// MatMulIntegerToFloat, as quantize_dynamic's graphs do; with `ONNXAttention.onnxRuntime` they are one Linear.
    /// W_q is `[in, out]` int8 with one scale per output channel and no zero point (symmetric), as `Int8Weights` writes.
    mutating func fusableInt8Linear(_ x: String, _ name: String, path: String, quantized: String, scale: String,
                                    outFeatures: Int) throws -> String {
        let quantize = b.node("DynamicQuantizeLinear", [x], outputs: 3, name: path + "/DynamicQuantizeLinear")
        let integer = b.op("MatMulInteger", [quantize[0], quantized, quantize[2]], name: path + "/MatMulInteger")
        let float = b.op("Cast", [integer], name: path + "/Cast", Attribute.int("to", Int(ONNXElementType.float.rawValue)))
        let scales = b.op("Mul", [quantize[1], scale], name: path + "/MulScales")
        let product = b.op("Mul", [float, scales], name: path + "/Mul")
        guard has(name + ".bias") else { return product }
        let bias = try weight(name + ".bias", shape: [outFeatures])
        return b.op("Add", [product, bias], name: path + "/Add")
    }
}
