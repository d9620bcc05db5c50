#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import BinaryIO
import CSystemShims
import ModelIR

/// SmoothQuant's migration of the quantization difficulty from activations to weights (Xiao et al. 2023, "SmoothQuant:
/// Accurate and Efficient Post-Training Quantization for Large Language Models", arXiv:2211.10438, §4): for a Linear
/// `y = x · Wᵀ` and a positive divisor `s_j` per input channel, `y = (x / s) · (W · diag(s))ᵀ` exactly, and with
/// `s_j = max|x_j|^α / max|W_·j|^(1−α)` the few input channels whose activations are 10–100× the others (the outlier
/// dimensions of trained BERT-family encoders: Kovaleva et al. 2021, "BERT Busters"; Bondarenko et al. 2021,
/// "Understanding and Overcoming the Challenges of Efficient Transformer Quantization") stop setting the step of the
/// whole tensor's per-tensor activation quantization, while the per-output-channel weight quantization absorbs the
/// larger weight columns. `ONNXInt8Activations.smoothed` applies it to every Linear of every encoder layer.
///
/// The activation ranges `max|x_j|` come from the weights alone, no calibration run: every Linear of a post-LN layer
/// reads a LayerNorm output, or a value one Linear away from one. A LayerNorm output is `γ_j · z_j + β_j` with `z` of
/// unit variance over the channels of each token, so channel j reaches about `|β_j| + k·|γ_j|` (k = `spread`
/// standard deviations); a Linear `W`, `b` of that output has channel r centred on `b_r + Σ_j W_rj β_j`, spread
/// `k·√(Σ_j (W_rj γ_j)²)`; the attention context mixes the tokens' value vectors convexly, so V's ranges bound it;
/// the input of the FFN down projection is the activation over the up projection's range. Measured on
/// Benchmarks/bench_onnx.py's outlier model in ONNX Runtime, these estimates smooth at least as well as ranges from a
/// calibration forward pass (README, int8 ONNX: smallest per-token cosine 0.9975 against 0.9902).
enum Smoothing {
    /// SmoothQuant's migration strength α: ½ splits the range evenly between activations and weights, the balance the
    /// paper finds good for most models it studies; on the outlier model 0.6 with calibrated ranges did no better.
    static let alpha: Float = 0.5
    /// How many standard deviations of a normalized channel the range estimate covers.
    static let spread: Float = 3
    /// Divisors stay within this factor of 1, so a zero LayerNorm weight or an all-zero weight column cannot blow up.
    static let limit: Float = 1e4

    /// `|β_j| + spread · |γ_j|`: the range of each channel of LayerNorm(γ, β)'s output.
    static func normRanges(gamma: [Float], beta: [Float]) -> [Float] {
        zip(gamma, beta).map { abs($1) + spread * abs($0) }
    }

    /// The interval each output channel of the Linear (`weight` `[rows, columns]` row-major, `bias`) reaches when its
    /// input is LayerNorm(γ, β)'s output: centre `b_r + Σ_j W_rj β_j`, half-width `spread · √(Σ_j (W_rj γ_j)²)`.
    static func linearIntervals(weight: [Float], bias: [Float]?, rows: Int, columns: Int, gamma: [Float], beta: [Float])
        -> [(low: Float, high: Float)] {
        var largest = [Float](repeating: 0, count: columns)
        return weight.withUnsafeBytes {
            statistics($0, rows: rows, columns: columns, largest: &largest, bias: bias, norm: (gamma, beta)) ?? []
        }
    }

    /// One pass over a Linear's weight (`[rows, columns]`, little-endian f32 `bytes`) for the planning: each column's
    /// largest magnitude folded into `largest`; with `norm` (the LayerNorm whose output the Linear reads) also the
    /// intervals of `linearIntervals`, else nil. The sums run in order of j, eight rows at once in a C kernel
    /// (`modelport_f32_weight_statistics`), with the values of the plain loop.
    static func statistics(_ bytes: UnsafeRawBufferPointer, rows: Int, columns: Int, largest: inout [Float], bias: [Float]?,
                           norm: (gamma: [Float], beta: [Float])?) -> [(low: Float, high: Float)]? {
        precondition(bytes.count == rows * columns * 4 && largest.count == columns && (bias?.count ?? rows) == rows
                     && (norm.map { $0.gamma.count == columns && $0.beta.count == columns } ?? true))
        var centre = bias ?? [Float](repeating: 0, count: rows), square = [Float](repeating: 0, count: rows)
        if let base = bytes.baseAddress, rows > 0, columns > 0 {
            if let norm {
                modelport_f32_weight_statistics(base, columns, 0, rows, &largest, norm.beta, norm.gamma, &centre, &square)
            } else {
                modelport_f32_weight_statistics(base, columns, 0, rows, &largest, nil, nil, nil, nil)
            }
        }
        guard norm != nil else { return nil }
        return zip(centre, square).map { centre, square in
            let half = spread * square.squareRoot()
            return (centre - half, centre + half)
        }
    }

    /// The largest |f(x)| of the activation `act` over each interval (sampled at both ends and 15 points between,
    /// which catches GELU's and SiLU's negative dip).
    static func activationRanges(_ intervals: [(low: Float, high: Float)], act: String) -> [Float] {
        let f: (Float) -> Float
        switch act {
        case "relu": f = { max($0, 0) }
        case "tanh": f = { tanh($0) }
        case "silu", "swish": f = { $0 / (1 + exp(-$0)) }
        default: f = { 0.5 * $0 * (1 + erf($0 / Float(2).squareRoot())) }  // GELU and its tanh forms
        }
        return intervals.map { interval in
            (0...16).reduce(Float(0)) { m, i in
                max(m, abs(f(interval.low + (interval.high - interval.low) * Float(i) / 16)))
            }
        }
    }

    /// `s_j = a_j^α / w_j^(1−α)` with `w_j` the largest |W_rj| over the rows of every matrix that reads the input
    /// (Q, K and V share one); 1 where a range or a column is zero or not finite, and within `limit` of 1.
    static func divisors(ranges: [Float], weights: [[Float]], columns: Int) -> [Float] {
        var largest = [Float](repeating: 0, count: columns)
        for w in weights {
            w.withUnsafeBytes { _ = statistics($0, rows: w.count / max(columns, 1), columns: columns, largest: &largest, bias: nil, norm: nil) }
        }
        return divisors(ranges: ranges, largest: largest)
    }

    /// `divisors(ranges:weights:columns:)` given the columns' largest magnitudes.
    static func divisors(ranges: [Float], largest: [Float]) -> [Float] {
        zip(ranges, largest).map { a, w in
            guard a > 0, w > 0, a.isFinite, w.isFinite else { return 1 }
            let s = pow(a, alpha) / pow(w, 1 - alpha)
            return s.isFinite ? min(max(s, 1 / limit), limit) : 1
        }
    }

    /// `t` (`[rows, columns]`) with column j multiplied by `divisors[j]`, as fp32, computed when the writer pulls it.
    static func scaledColumns(_ t: Tensor, by divisors: [Float]) -> Tensor {
        Tensor(name: t.name, dtype: .f32, shape: t.shape, data: .producer {
            try Int8Weights.withF32Bytes(t) { values in
                let columns = divisors.count
                let rows = columns > 0 ? values.count / 4 / columns : 0
                guard rows * columns * 4 == values.count else {
                    throw ONNXError(.cannotExport, "tensor '\(t.name)' does not have \(columns) columns")
                }
                let out = TensorBuffer(uninitializedCount: values.count)
                guard rows > 0, let from = values.baseAddress else { return out }
                out.withMutableBytes { bytes in
                    divisors.withUnsafeBufferPointer { divisors in
                        modelport_f32_scale_columns(from, columns, 0, rows, divisors.baseAddress, bytes.baseAddress)
                    }
                }
                return out
            }
        })
    }
}

extension EncoderGraph {
    /// Whether this layer's Linears are smoothed: int8 `.smoothed`, a BERT-style post-LN layer (ALBERT's shared layers
    /// and COCO-LM's stacked projection keep the per-tensor form) whose input is a LayerNorm output.
    var smoothsLayers: Bool {
        options.precision == .int8 && options.int8Activations == .smoothed && architecture != .albert && architecture != .cocolm
    }

    /// A LayerNorm's γ and β as floats.
    func normParameters(_ name: String, width: Int) throws -> (gamma: [Float], beta: [Float]) {
        let gamma = try Int8Weights.floats(tensor(name + ".weight")), beta = try Int8Weights.floats(tensor(name + ".bias"))
        guard gamma.count == width, beta.count == width else {
            throw ONNXError(.cannotExport, "LayerNorm '\(name)' has \(gamma.count) / \(beta.count) parameters, expected \(width)")
        }
        return (gamma, beta)
    }

    /// One planning pass over Linear `name`'s weight (`[rows, columns]`, read where it lies): its columns' largest
    /// magnitudes folded into `largest`, and with `norm` the intervals of its outputs (`Smoothing.statistics`). NaN
    /// and infinities are not looked for here: the quantizer's range pass over the smoothed weight reports them.
    func linearStatistics(_ name: String, rows: Int, columns: Int, largest: inout [Float],
                          norm: (gamma: [Float], beta: [Float])? = nil) throws -> [(low: Float, high: Float)]? {
        let w = try tensor(name + ".weight")
        guard w.shape.dimensions == [rows, columns] else {
            throw ONNXError(.cannotExport, "tensor '\(name).weight' has shape \(w.shape), expected [\(rows), \(columns)]")
        }
        var bias: [Float]?
        if norm != nil, has(name + ".bias") {
            bias = try Int8Weights.floats(tensor(name + ".bias"))
            guard bias?.count == rows else { throw ONNXError(.cannotExport, "tensor '\(name).bias' does not have \(rows) values") }
        }
        return try Int8Weights.withF32Bytes(w) { bytes in
            guard bytes.count == rows * columns * 4 else {
                throw ONNXError(.cannotExport, "tensor '\(name).weight' does not hold \(rows) × \(columns) values")
            }
            return Smoothing.statistics(bytes, rows: rows, columns: columns, largest: &largest, bias: bias, norm: norm)
        }
    }

    /// Plans the smoothing of one layer: replaces the weights of `linears` (all reading the same input, whose columns
    /// have the largest magnitudes `largest`) by `W · diag(s)` and returns `1 / s`, the multipliers of that input.
    mutating func smoothed(_ linears: [String], largest: [Float], ranges: [Float]) -> [Float] {
        let s = Smoothing.divisors(ranges: ranges, largest: largest)
        for name in linears {
            if let t = index[name + ".weight"] { index[name + ".weight"] = Smoothing.scaledColumns(t, by: s) }
        }
        return s.map { 1 / $0 }
    }

    /// `x · multipliers` over the last axis; the multipliers are the initializer `name + ".input_smooth"`, which the ONNX
    /// reader looks for between a DynamicQuantizeLinear and the Linear's input to give back the unsmoothed weight.
    mutating func smoothedInput(_ x: String, multipliers: [Float], name: String) -> String {
        let constant = name + ".input_smooth"
        b.initializers.append(ONNXInitializer(name: constant, type: .float, dims: [multipliers.count],
                                              data: .owned(Int8Weights.floatBuffer(multipliers))))
        return b.op("Mul", [x, constant], name: "/" + name.replacing(".", with: "/") + "/Smooth")
    }

    /// The multipliers for the four inputs of a post-LN layer whose input is LayerNorm `inputNorm`'s output: Q, K and V
    /// (one), the attention output, the FFN up and down projections; their weights in `index` become the smoothed ones.
    /// Each weight is read once here (and once more when it is written).
    mutating func layerSmoothing(q: String, k: String, v: String, o: String, up: String, down: String, ln1: String,
                                 inputNorm: String) throws -> (attention: [Float], output: [Float], up: [Float], down: [Float]) {
        let H = hidden
        let n0 = try normParameters(inputNorm, width: H), n1 = try normParameters(ln1, width: H)
        var qkvLargest = [Float](repeating: 0, count: H), oLargest = qkvLargest, upLargest = qkvLargest
        var downLargest = [Float](repeating: 0, count: intermediate)
        _ = try linearStatistics(q, rows: H, columns: H, largest: &qkvLargest)
        _ = try linearStatistics(k, rows: H, columns: H, largest: &qkvLargest)
        let values = try linearStatistics(v, rows: H, columns: H, largest: &qkvLargest, norm: n0) ?? []
        _ = try linearStatistics(o, rows: H, columns: H, largest: &oLargest)
        let intervals = try linearStatistics(up, rows: intermediate, columns: H, largest: &upLargest, norm: n1) ?? []
        _ = try linearStatistics(down, rows: H, columns: intermediate, largest: &downLargest)
        let attention = smoothed([q, k, v], largest: qkvLargest, ranges: Smoothing.normRanges(gamma: n0.gamma, beta: n0.beta))
        let output = smoothed([o], largest: oLargest, ranges: values.map { max(abs($0.low), abs($0.high)) })
        let upMultipliers = smoothed([up], largest: upLargest, ranges: Smoothing.normRanges(gamma: n1.gamma, beta: n1.beta))
        let downMultipliers = smoothed([down], largest: downLargest, ranges: Smoothing.activationRanges(intervals, act: activation))
        return (attention, output, upMultipliers, downMultipliers)
    }
}
