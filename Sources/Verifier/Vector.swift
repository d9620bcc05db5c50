#if !canImport(Accelerate)
import CBLAS  // Linux: the AVX2 + FMA forms of bias + GELU and softmax (Sources/CBLAS/vector_kernels.c)
#endif

/// Row operations of the forward pass in SIMD lanes: bias, activations, LayerNorm, softmax, and the `exp` and `erf`
/// they need. Eight lanes: two SSE registers on the baseline x86-64 target, one AVX register where the compiler may
/// use it; the operations are plain adds, multiplies, compares and bit moves, so no lane falls back to a libm call.
///
/// The two that cost most outside the matrix products, erf GELU and softmax, run as C functions with AVX2 and FMA
/// when the CPU has them (`native`): the same formulas in one 256-bit register per eight lanes, with fused
/// multiply-adds, which the baseline target cannot use (measured on MiniLM 8×128: 11 % of the forward pass's CPU
/// time in these two on SSE).
enum Vector {
    typealias Lanes = SIMD8<Float>
    typealias Bits = SIMD8<UInt32>
    static let width = Lanes.scalarCount

    /// Whether the AVX2 + FMA row operations run here (x86-64 Linux with those instructions).
    #if !canImport(Accelerate) && arch(x86_64)
    static let native = modelport_vector_avx2() != 0
    #else
    static let native = false
    #endif

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes { UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self) }

    /// The first `count` (< 8) values, the other lanes `pad`.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, count: Int, pad: Float) -> Lanes {
        var v = Lanes(repeating: pad)
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { p[i] = v[i] }
    }

    /// Applies `f` to `count` values in place, eight at a time (the tail padded with `pad`).
    @inline(__always)
    static func map(_ p: UnsafeMutablePointer<Float>, count: Int, pad: Float = 0, _ f: (Lanes) -> Lanes) {
        var i = 0
        while i + width <= count {
            store(f(load(p + i)), p + i)
            i += width
        }
        if i < count { store(f(load(p + i, count: count - i, pad: pad)), p + i, count: count - i) }
    }

    /// `y += x`.
    static func add(_ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + width <= count {
            store(load(y + i) + load(x + i), y + i)
            i += width
        }
        while i < count {
            y[i] += x[i]
            i += 1
        }
    }

    // MARK: exp and erf

    /// `eˣ` for `x ≤ 0` (what softmax and GELU need), 0 below the smallest normal result. Cephes `expf` (Stephen
    /// Moshier's Cephes Math Library, public domain): `x = n·ln 2 + r`, `eʳ` by its degree-7 minimax polynomial,
    /// `2ⁿ` built in the exponent bits; about 1 ulp.
    @inline(__always)
    static func exp(_ x: Lanes) -> Lanes {
        let lowest = Lanes(repeating: -87.33654)
        let c = x.replacing(with: lowest, where: x .< lowest)
        // Round x·log₂e to the nearest integer with the 1.5·2²³ trick (no SSE4.1 round needed); its low bits hold n.
        let shifted = c * 1.44269504088896341 + 12582912
        let n = shifted - 12582912
        let r = c - n * 0.693359375 + n * 2.12194440e-4
        var p = Lanes(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let er = p * (r * r) + r + 1
        let exponent = (unsafeBitCast(shifted, to: Bits.self) &- 0x4B40_0000 &+ 127) &<< 23
        let result = er * unsafeBitCast(exponent, to: Lanes.self)
        return result.replacing(with: 0, where: x .< lowest)
    }

    /// `erf(x)` by Abramowitz & Stegun, Handbook of Mathematical Functions, 7.1.26 (absolute error ≤ 1.5·10⁻⁷), the
    /// form PyTorch's vectorised CPU `erf` uses.
    @inline(__always)
    static func erf(_ x: Lanes) -> Lanes {
        let bits = unsafeBitCast(x, to: Bits.self)
        let a = unsafeBitCast(bits & 0x7FFF_FFFF, to: Lanes.self)
        let t = 1 / (a * 0.3275911 + 1)
        var p = Lanes(repeating: 1.061405429)
        p = p * t - 1.453152027
        p = p * t + 1.421413741
        p = p * t - 0.284496736
        p = p * t + 0.254829592
        let y = 1 - p * t * exp(-(a * a))
        return unsafeBitCast(unsafeBitCast(y, to: Bits.self) | (bits & 0x8000_0000), to: Lanes.self)
    }

    /// `tanh(x) = sign(x)·(1 − e^{−2|x|}) / (1 + e^{−2|x|})`.
    @inline(__always)
    static func tanh(_ x: Lanes) -> Lanes {
        let bits = unsafeBitCast(x, to: Bits.self)
        let a = unsafeBitCast(bits & 0x7FFF_FFFF, to: Lanes.self)
        let e = exp(-2 * a)
        let y = (1 - e) / (1 + e)
        return unsafeBitCast(unsafeBitCast(y, to: Bits.self) | (bits & 0x8000_0000), to: Lanes.self)
    }

    /// `y = activation(y + bias)`, in one pass where the native kernels have the activation.
    static func activate(_ p: UnsafeMutablePointer<Float>, adding bias: UnsafePointer<Float>, count: Int, _ activation: Kernels.Activation,
                         native: Bool = Vector.native) {
        #if !canImport(Accelerate) && arch(x86_64)
        if native, case .gelu = activation { return modelport_vector_bias_gelu(p, bias, count) }
        #endif
        add(bias, to: p, count: count)
        activate(p, count: count, activation, native: native)
    }

    /// An activation in place (`native: false` keeps to the Swift lanes, for tests).
    static func activate(_ p: UnsafeMutablePointer<Float>, count: Int, _ activation: Kernels.Activation, native: Bool = Vector.native) {
        switch activation {
        case .gelu:  // 0.5·x·(1 + erf(x/√2))
            #if !canImport(Accelerate) && arch(x86_64)
            if native { return modelport_vector_bias_gelu(p, nil, count) }
            #endif
            map(p, count: count) { x in 0.5 * x * (1 + erf(x * 0.70710678118654752)) }
        case .geluTanh:  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
            map(p, count: count) { x in 0.5 * x * (1 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x))) }
        case .relu:
            map(p, count: count) { x in x.replacing(with: 0, where: x .< 0) }
        case .tanh:
            map(p, count: count) { x in tanh(x) }
        }
    }

    // MARK: rows

    /// LayerNorm of one row in place: `(x − mean) / √(variance + eps) · weight + shift`, biased variance.
    static func layerNorm(_ p: UnsafeMutablePointer<Float>, count: Int, weight: UnsafePointer<Float>, shift: UnsafePointer<Float>, eps: Float) {
        var sum = Lanes(), i = 0
        while i + width <= count {
            sum += load(p + i)
            i += width
        }
        var tail: Float = 0
        for j in i..<count { tail += p[j] }
        let mean = (sum.sum() + tail) / Float(count)
        var squares = Lanes()
        i = 0
        while i + width <= count {
            let d = load(p + i) - mean
            squares += d * d
            i += width
        }
        tail = 0
        for j in i..<count { tail += (p[j] - mean) * (p[j] - mean) }
        let scale = 1 / ((squares.sum() + tail) / Float(count) + eps).squareRoot()
        i = 0
        while i + width <= count {
            store((load(p + i) - mean) * scale * load(weight + i) + load(shift + i), p + i)
            i += width
        }
        for j in i..<count { p[j] = (p[j] - mean) * scale * weight[j] + shift[j] }
    }

    /// Softmax of one row of scores in place after adding `mask` and `bias` (either may be absent). A NaN or +∞ score
    /// makes the whole row NaN, as in PyTorch; a row whose scores are all −∞ (every key masked) becomes zeros.
    static func softmax(_ s: UnsafeMutablePointer<Float>, count: Int, adding mask: UnsafePointer<Float>?, and bias: UnsafePointer<Float>?,
                        native: Bool = Vector.native) {
        guard count > 0 else { return }
        #if !canImport(Accelerate) && arch(x86_64)
        if native { return modelport_vector_softmax(s, count, mask, bias) }
        #endif
        var maximum = Lanes(repeating: -.infinity)
        var nan = SIMDMask<SIMD8<Int32>>(repeating: false)
        var i = 0
        func add(_ v: Lanes, at j: Int, count n: Int) -> Lanes {
            var v = v
            if let mask { v += n == width ? load(mask + j) : load(mask + j, count: n, pad: 0) }
            if let bias { v += n == width ? load(bias + j) : load(bias + j, count: n, pad: 0) }
            return v
        }
        while i < count {
            let n = min(width, count - i)
            var v = add(n == width ? load(s + i) : load(s + i, count: n, pad: -.infinity), at: i, count: n)
            if n < width { for lane in n..<width { v[lane] = -.infinity } }
            nan .|= v .!= v
            maximum = maximum.replacing(with: v, where: maximum .< v)
            if n == width { store(v, s + i) } else { store(v, s + i, count: n) }
            i += n
        }
        let top = maximum.max()
        if any(nan) || top == .infinity {
            s.update(repeating: .nan, count: count)
            return
        }
        if top == -.infinity {
            s.update(repeating: 0, count: count)
            return
        }
        var sum = Lanes()
        i = 0
        while i + width <= count {
            let e = exp(load(s + i) - top)
            store(e, s + i)
            sum += e
            i += width
        }
        if i < count {
            let e = exp(load(s + i, count: count - i, pad: -.infinity) - top)
            store(e, s + i, count: count - i)
            sum += e
        }
        let inverse = 1 / sum.sum()
        map(s, count: count) { $0 * inverse }
    }
}
