import BinaryIO
import CBLAS

/// The numeric building blocks of the reference forward passes (as `torch.nn.functional` computes them), in fp32.
///
/// Matrix products go through BLAS `sgemm` (`BLAS`), split by rows over the cores with the library on one thread;
/// what follows a product (bias, activation, residual and LayerNorm) runs on the same block of rows right after it,
/// while they are in cache, in SIMD lanes. Work crosses threads only through `Parallel.fill`.
enum Kernels {
    /// What a linear layer does to each block of its output rows after the product.
    enum Epilogue {
        case none
        /// `y += bias`.
        case bias(UnsafePointer<Float>)
        /// `y = activation(y + bias)`.
        case biasActivation(UnsafePointer<Float>, Activation)
        /// `y = LayerNorm(y + bias + residual)`; `residual` has the output's rows and width.
        case biasResidualNorm(bias: UnsafePointer<Float>, residual: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              shift: UnsafePointer<Float>, eps: Float)
    }

    /// The activations of Hugging Face configs (`hidden_act`).
    enum Activation {
        /// erf GELU (`gelu`, `gelu_python`).
        case gelu
        /// tanh-approximated GELU (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
        case geluTanh
        case relu
        case tanh

        init(name: String) throws {
            switch name {
            case "gelu", "gelu_python": self = .gelu
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
            case "relu": self = .relu
            case "tanh": self = .tanh
            default: throw VerifierError("activation '\(name)' is not supported")
            }
        }
    }

    /// Rows below which a product or an element-wise pass stays on one core.
    static let minimumRowsPerCore = 16

    /// Rows below which a product is split by output columns rather than by rows: with few rows (the quality check's
    /// 2 × 16 tokens) the time goes into packing W, and a row split would have every core pack all of it.
    static let columnSplitRows = 128

    /// Rows up to which a product runs in `modelport_small_gemm_nt` (where AVX2 and FMA are there) instead of BLAS:
    /// it streams W once without packing it, which wins while there are too few rows to pay for the packing.
    static let smallProductRows = 64

    /// Whether a product with `rows` rows is split by output columns over the cores (see `columnSplitRows`,
    /// `smallProductRows`) rather than by rows.
    static func splitsColumns(rows: Int, outFeatures: Int) -> Bool {
        (rows <= smallProductRows && Vector.native) || (rows < columnSplitRows && Parallel.cores > 1 && outFeatures >= 64 * Parallel.cores)
    }

    /// `y = x · Wᵀ` (row stride of y `ldy`), split by output columns: each core multiplies every row by its own band
    /// of W's rows (a band of y's columns: disjoint memory). With few rows and AVX2 + FMA the small-product kernel
    /// runs, else BLAS.
    static func productByColumns(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weight: UnsafePointer<Float>,
                                 outFeatures: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        let small = rows <= smallProductRows && Vector.native
        let band = (outFeatures + Parallel.cores - 1) / Parallel.cores
        Parallel.forEachChunk(of: outFeatures, size: (band + 15) / 16 * 16, lending: y) { columns, y in
            if small {
                modelport_small_gemm_nt(x, rows, inFeatures, weight + columns.lowerBound * inFeatures, columns.count,
                                        y + columns.lowerBound, ldy)
            } else {
                BLAS.sgemm(transposeB: true, m: rows, n: columns.count, k: inFeatures, alpha: 1, a: x, lda: inFeatures,
                           b: weight + columns.lowerBound * inFeatures, ldb: inFeatures, beta: 0, c: y + columns.lowerBound, ldc: ldy)
            }
        }
    }

    /// `y[rows, out] = x[rows, in] · Wᵀ` with `W` stored `[out, in]` (PyTorch's Linear), then the epilogue.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weight: UnsafePointer<Float>, outFeatures: Int,
                       into y: UnsafeMutableBufferPointer<Float>, epilogue: Epilogue) {
        precondition(y.count == rows * outFeatures)
        if splitsColumns(rows: rows, outFeatures: outFeatures), let out = y.baseAddress {
            productByColumns(x, rows: rows, inFeatures: inFeatures, weight: weight, outFeatures: outFeatures, into: out, ldy: outFeatures)
            Parallel.fill(y, rows: rows, minimumRows: minimumRowsPerCore) { range, slice in
                guard let out = slice.baseAddress, !range.isEmpty else { return }
                finish(out, range: range, outFeatures: outFeatures, epilogue: epilogue)
            }
            return
        }
        Parallel.fill(y, rows: rows, minimumRows: minimumRowsPerCore) { range, slice in
            guard let out = slice.baseAddress, !range.isEmpty else { return }
            BLAS.sgemm(transposeB: true, m: range.count, n: outFeatures, k: inFeatures, alpha: 1, a: x + range.lowerBound * inFeatures,
                       lda: inFeatures, b: weight, ldb: inFeatures, beta: 0, c: out, ldc: outFeatures)
            finish(out, range: range, outFeatures: outFeatures, epilogue: epilogue)
        }
    }

    /// The epilogue on the product's rows `range` (held at `out`, `outFeatures` a row).
    private static func finish(_ out: UnsafeMutablePointer<Float>, range: Range<Int>, outFeatures: Int, epilogue: Epilogue) {
        for r in 0..<range.count {
            let row = out + r * outFeatures
            switch epilogue {
            case .none:
                break
            case .bias(let bias):
                Vector.add(bias, to: row, count: outFeatures)
            case .biasActivation(let bias, let activation):
                Vector.activate(row, adding: bias, count: outFeatures, activation)
            case let .biasResidualNorm(bias, residual, weight, shift, eps):
                Vector.add(bias, to: row, count: outFeatures)
                Vector.add(residual + (range.lowerBound + r) * outFeatures, to: row, count: outFeatures)
                Vector.layerNorm(row, count: outFeatures, weight: weight, shift: shift, eps: eps)
            }
        }
    }

    /// `y[rows, out] = x[rows, in] · Wᵀ + b`, over arrays (heads, poolers, the architectures off the hot path).
    static func linear(_ x: [Float], rows: Int, weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int) throws -> [Float] {
        guard x.count == rows * inFeatures, weight.count == inFeatures * outFeatures, bias.map({ $0.count == outFeatures }) ?? true else {
            throw VerifierError("a linear layer's weights (\(weight.count)) or bias do not fit \(inFeatures) → \(outFeatures)")
        }
        var y = [Float](repeating: 0, count: rows * outFeatures)
        guard rows > 0, outFeatures > 0 else { return y }
        x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { wp in
            y.withUnsafeMutableBufferPointer { yp in
                guard inFeatures > 0 else {  // an empty product: the bias alone
                    if let bias { for r in 0..<rows { for o in 0..<outFeatures { yp[r * outFeatures + o] = bias[o] } } }
                    return
                }
                if let bias {
                    bias.withUnsafeBufferPointer { bp in
                        linear(xp.baseAddress!, rows: rows, inFeatures: inFeatures, weight: wp.baseAddress!, outFeatures: outFeatures,
                               into: yp, epilogue: .bias(bp.baseAddress!))
                    }
                } else {
                    linear(xp.baseAddress!, rows: rows, inFeatures: inFeatures, weight: wp.baseAddress!, outFeatures: outFeatures,
                           into: yp, epilogue: .none)
                }
            }
        }}
        return y
    }

    /// LayerNorm over the last axis (biased variance), rows over the cores.
    static func layerNorm(_ x: inout [Float], width: Int, weight: [Float], bias: [Float], eps: Double) throws {
        guard width > 0, weight.count == width, bias.count == width, x.count % width == 0 else {
            throw VerifierError("a LayerNorm's parameters (\(weight.count), \(bias.count)) do not fit width \(width)")
        }
        let rows = x.count / width
        weight.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
            x.withUnsafeMutableBufferPointer { p in
                Parallel.fill(p, rows: rows, minimumRows: minimumRowsPerCore) { range, slice in
                    for r in 0..<range.count {
                        Vector.layerNorm(slice.baseAddress! + r * width, count: width, weight: wp.baseAddress!, shift: bp.baseAddress!,
                                         eps: Float(eps))
                    }
                }
            }
        }}
    }

    /// The activation named by a Hugging Face config, applied in place.
    static func activate(_ x: inout [Float], _ name: String) throws {
        let activation = try Activation(name: name)
        let chunk = 4096, chunks = (x.count + chunk - 1) / chunk, count = x.count
        guard count > 0 else { return }
        x.withUnsafeMutableBufferPointer { p in
            // Whole chunks as rows (the last one padded in thought only: `fill` needs equal rows, so the tail runs here).
            let whole = count / chunk
            if whole > 0 {
                Parallel.fill(UnsafeMutableBufferPointer(rebasing: p[0..<(whole * chunk)]), rows: whole, minimumRows: 2) { range, slice in
                    Vector.activate(slice.baseAddress!, count: slice.count, activation)
                }
            }
            if chunks > whole { Vector.activate(p.baseAddress! + whole * chunk, count: count - whole * chunk, activation) }
        }
    }

    /// Multi-head attention over a batch: `softmax(scale·q·kᵀ + bias + mask)·v` per sequence and head, the heads'
    /// contexts concatenated into `context` `[batch·queries, heads·valueHeadSize]`.
    ///
    /// `q` rows are `queries` per sequence, `qStride` apart, head `h` at column `h·headSize`; `k` and `v` likewise with
    /// `keys` rows. `keyMasks[b][j]` is added to every score of key `j` (0 for real keys); `bias`, when given, is
    /// `[heads, queries, keys]`, shared by the batch. A query row whose keys are all masked with −inf gets a zero
    /// context. `headMajor` (`batch·heads·queries·valueHeadSize` floats) holds each head's context before they are
    /// concatenated, so that every (sequence, head) pair is one block of the work split over the cores.
    static func attention(q: UnsafePointer<Float>, qStride: Int, k: UnsafePointer<Float>, kStride: Int, v: UnsafePointer<Float>,
                          vStride: Int, batch: Int, queries: Int, keys: Int, heads: Int, headSize: Int, valueHeadSize: Int,
                          scale: Float, keyMasks: [[Float]]?, bias: UnsafePointer<Float>?,
                          headMajor: UnsafeMutableBufferPointer<Float>, into context: UnsafeMutableBufferPointer<Float>) {
        let block = queries * valueHeadSize, width = heads * valueHeadSize
        precondition(headMajor.count == batch * heads * block && context.count == batch * queries * width)
        guard block > 0 else { return }
        Parallel.fill(headMajor, rows: batch * heads) { range, slice in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(queries * keys, 1)) { scores in
                let s = scores.baseAddress!
                for pair in range {
                    let b = pair / heads, h = pair % heads
                    let out = slice.baseAddress! + (pair - range.lowerBound) * block
                    let qh = q + b * queries * qStride + h * headSize
                    let kh = k + b * keys * kStride + h * headSize
                    let vh = v + b * keys * vStride + h * valueHeadSize
                    if keys == 0 {
                        out.update(repeating: 0, count: block)
                        continue
                    }
                    if headSize > 0 {
                        BLAS.sgemm(transposeB: true, m: queries, n: keys, k: headSize, alpha: scale, a: qh, lda: qStride, b: kh,
                                   ldb: kStride, beta: 0, c: s, ldc: keys)
                    } else {
                        s.update(repeating: 0, count: queries * keys)
                    }
                    let mask = keyMasks?[b]
                    mask.withUnsafeBufferPointerIfPresent { maskPointer in
                        for i in 0..<queries {
                            Vector.softmax(s + i * keys, count: keys, adding: maskPointer, and: bias.map { $0 + (h * queries + i) * keys })
                        }
                    }
                    BLAS.sgemm(transposeB: false, m: queries, n: valueHeadSize, k: keys, alpha: 1, a: s, lda: keys, b: vh, ldb: vStride,
                               beta: 0, c: out, ldc: valueHeadSize)
                }
            }
        }
        // Concatenate the heads: row t of sequence b is head 0's row t, head 1's row t, ….
        Parallel.fill(context, rows: batch * queries, minimumRows: minimumRowsPerCore) { range, slice in
            for row in range {
                let b = row / queries, t = row % queries
                let out = slice.baseAddress! + (row - range.lowerBound) * width
                for h in 0..<heads {
                    (out + h * valueHeadSize).update(from: headMajor.baseAddress! + ((b * heads + h) * queries + t) * valueHeadSize,
                                                     count: valueHeadSize)
                }
            }
        }
    }
}

private extension Optional where Wrapped == [Float] {
    func withUnsafeBufferPointerIfPresent<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let array): return array.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}

/// A failure of a forward pass or a parity check: what and why.
public struct VerifierError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
