#if canImport(Accelerate)
import Accelerate  // macOS: the system BLAS
#else
import CBLAS  // Linux: OpenBLAS
#endif
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The numeric building blocks of the reference forward passes (as `torch.nn.functional` computes them), in fp32.
/// Matrix products go through CBLAS `sgemm`; the rest are plain loops over contiguous buffers.
enum Kernels {
    /// `y[rows, out] = x[rows, in] · Wᵀ + b`, with `W` stored `[out, in]` (PyTorch's Linear).
    static func linear(_ x: [Float], rows: Int, weight: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int) throws -> [Float] {
        guard x.count == rows * inFeatures, weight.count == inFeatures * outFeatures, bias.map({ $0.count == outFeatures }) ?? true else {
            throw VerifierError("a linear layer's weights (\(weight.count)) or bias do not fit \(inFeatures) → \(outFeatures)")
        }
        var y = [Float](repeating: 0, count: rows * outFeatures)
        if let bias {
            for r in 0..<rows {
                for o in 0..<outFeatures { y[r * outFeatures + o] = bias[o] }
            }
        }
        x.withUnsafeBufferPointer { xp in
            weight.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    nonisolated(unsafe) let (xp, wp, yp) = (xp, wp, yp)
                    // Row blocks over the cores, each a single-threaded sgemm (see `forEachRowBlock`).
                    forEachRowBlock(rows) { range in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(range.count), Int32(outFeatures), Int32(inFeatures),
                                    1, xp.baseAddress! + range.lowerBound * inFeatures, Int32(inFeatures), wp.baseAddress, Int32(inFeatures),
                                    bias == nil ? 0 : 1, yp.baseAddress! + range.lowerBound * outFeatures, Int32(outFeatures))
                    }
                }
            }
        }
        return y
    }

    /// The cores to split row work over.
    static let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// Splits `rows` (or elements) into one block per core and runs `body` on them concurrently. The forward pass keeps OpenBLAS
    /// on one thread and parallelises by rows itself: OpenBLAS's own pool busy-waits between calls and would take
    /// the cores from the element-wise work that follows every product.
    static func forEachRowBlock(_ rows: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let blocks = rows >= 32 ? min(cores, rows / 16) : 1
        guard blocks > 1 else { return body(0..<rows) }
        DispatchQueue.concurrentPerform(iterations: blocks) { b in
            body((b * rows / blocks)..<((b + 1) * rows / blocks))
        }
    }

    /// Runs `body` with OpenBLAS on one thread, for work that is already split over the cores (per-sequence
    /// attention): nested threading would make the BLAS threads spin against ours.
    static func singleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        #if canImport(Accelerate)
        return try body()
        #else
        let threads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(threads) }
        return try body()
        #endif
    }

    /// LayerNorm over the last axis (biased variance, accumulated in Double).
    static func layerNorm(_ x: inout [Float], width: Int, weight: [Float], bias: [Float], eps: Double) throws {
        guard width > 0, weight.count == width, bias.count == width, x.count % width == 0 else {
            throw VerifierError("a LayerNorm's parameters (\(weight.count), \(bias.count)) do not fit width \(width)")
        }
        let rows = x.count / width
        x.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows {
                let row = UnsafeMutableBufferPointer(rebasing: p[(r * width)..<((r + 1) * width)])
                var mean = 0.0
                for v in row { mean += Double(v) }
                mean /= Double(width)
                var variance = 0.0
                for v in row { variance += (Double(v) - mean) * (Double(v) - mean) }
                variance /= Double(width)
                let scale = 1 / (variance + eps).squareRoot()
                for i in 0..<width { row[i] = Float((Double(row[i]) - mean) * scale) * weight[i] + bias[i] }
            }
        }
    }

    /// The activation named by a Hugging Face config, applied in place.
    static func activate(_ x: inout [Float], _ name: String) throws {
        switch name {
        case "gelu", "gelu_python":
            x.withUnsafeMutableBufferPointer { p in
                nonisolated(unsafe) let p = p
                forEachRowBlock(p.count) { range in  // erf is the costliest element-wise step: both cores
                    for i in range { p[i] = 0.5 * p[i] * (1 + erff(p[i] / 2.0.squareRoot().float)) }
                }
            }
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
            let c = Float((2 / Double.pi).squareRoot())
            for i in x.indices {
                let v = x[i]
                x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v)))
            }
        case "relu":
            for i in x.indices { x[i] = max(0, x[i]) }
        case "tanh":
            for i in x.indices { x[i] = tanhf(x[i]) }
        default:
            throw VerifierError("activation '\(name)' is not supported")
        }
    }

    /// Multi-head self-attention for one sequence: `softmax(scale·q·kᵀ + bias + mask)·v` per head, contexts
    /// concatenated. `q`, `k`, `v` are `[length, heads·d]`; `keyMask[j]` is 0 for real keys and the additive mask
    /// otherwise; `bias`, when given, is `[heads, length, length]`. Returns the query rows whose keys were all
    /// masked with −inf (their context is left 0).
    @discardableResult
    static func attention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, length: Int, heads: Int,
                          headSize: Int, scale: Float, keyMask: [Float]?, bias: UnsafePointer<Float>? = nil,
                          keyLength: Int? = nil, valueHeadSize: Int? = nil,
                          into context: UnsafeMutablePointer<Float>) -> Set<Int> {
        // Queries: `length` rows of heads·headSize; keys: `keys` rows; values: heads·valueHeadSize wide.
        let width = heads * headSize
        let keys = keyLength ?? length
        let vHead = valueHeadSize ?? headSize
        let vWidth = heads * vHead
        var scores = [Float](repeating: 0, count: length * keys)
        var dead = Set<Int>()
        for h in 0..<heads {
            scores.withUnsafeMutableBufferPointer { s in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(length), Int32(keys), Int32(headSize),
                            scale, q + h * headSize, Int32(width), k + h * headSize, Int32(width), 0, s.baseAddress, Int32(keys))
                for i in 0..<length {
                    var maximum = -Float.infinity
                    for j in 0..<keys {
                        var value = s[i * keys + j]
                        if let bias { value += bias[(h * length + i) * keys + j] }
                        if let keyMask { value += keyMask[j] }
                        s[i * keys + j] = value
                        maximum = value.isNaN || maximum.isNaN ? .nan : max(maximum, value)  // a NaN score poisons the row, as in PyTorch
                    }
                    if maximum == -Float.infinity {  // every key masked with −inf: no distribution at all
                        for j in 0..<keys { s[i * keys + j] = 0 }
                        dead.insert(i)
                        continue
                    }
                    var sum: Float = 0
                    for j in 0..<keys {
                        let e = expf(s[i * keys + j] - maximum)
                        s[i * keys + j] = e
                        sum += e
                    }
                    for j in 0..<keys { s[i * keys + j] /= sum }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(length), Int32(vHead), Int32(keys),
                            1, s.baseAddress, Int32(keys), v + h * vHead, Int32(vWidth), 0, context + h * vHead, Int32(vWidth))
            }
        }
        return dead
    }
}

private extension Double {
    var float: Float { Float(self) }
}

/// A failure of a forward pass or a parity check: what and why.
public struct VerifierError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
