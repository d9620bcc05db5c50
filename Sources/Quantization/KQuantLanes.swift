import BinaryIO
import ModelIR

/// The K-quant fits with one SIMD lane per sub-block: Q4_K/Q5_K run `make_qkx2_quants` on the 8 sub-blocks of 32 of
/// a super-block side by side (`SIMD8`), Q6_K runs `make_qx_quants` on its 16 sub-blocks of 16, 8 at a time.
///
/// Each lane does the scalar kernel's f32 operations in the scalar kernel's order (sums over the sub-block's values
/// in index order, the candidate steps in order, no fused multiply-add), so each lane's result is bit for bit the
/// scalar one; its branches become masked selects with the same comparisons (strict `<` / `>`, so ties keep the
/// earlier candidate). A lane whose branch the scalar code would not take computes values that are then discarded
/// (an infinity or NaN there is harmless: it is never selected, and the integer steps are bit operations that cannot
/// trap). The levels of the best candidate are recomputed from its step and shift, which gives the same integers.
/// `Workspace.encodeAffine` / `encodeQ6K` stay the reference these lanes are tested against.
extension KQuants.Workspace {
    typealias Lanes8 = SIMD8<Float>

    /// Q4_K / Q5_K with the 8 sub-block fits in lanes; the same bytes as `encodeAffine`.
    func encodeAffineLanes(_ type: DType, into out: UnsafeMutableRawBufferPointer) {
        let top: Int32 = type == .q4_K ? 15 : 31
        // Lane j of `lanes8[i]` is value i of sub-block j.
        for j in 0..<8 {
            for i in 0..<32 { lanes8[i][j] = x[32 * j + i] }
        }
        var sumSquares = Lanes8(repeating: 0)
        for i in 0..<32 { sumSquares = sumSquares + lanes8[i] * lanes8[i] }
        let average = (sumSquares / 32).squareRoot()
        for i in 0..<32 { weights8[i] = average + Self.magnitude(lanes8[i]) }
        let fit = type == .q4_K
            ? fitAffineLanes(top: top, rmin: -1, rdelta: 0.1, steps: 20)
            : fitAffineLanes(top: top, rmin: -0.5, rdelta: 0.1, steps: 15)
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            if fit.scale[j] > maxScale { maxScale = fit.scale[j] }
            if fit.min[j] > maxMin { maxMin = fit.min[j] }
        }
        for j in 0..<8 {
            scales[j] = fit.scale[j]
            mins[j] = fit.min[j]
        }
        let (dBits, dminBits) = packScalesAndMins(maxScale: maxScale, maxMin: maxMin)
        let d = KQuants.float(fromHalf: dBits), dmin = KQuants.float(fromHalf: dminBits)
        var step = Lanes8(repeating: 0), shift = Lanes8(repeating: 0)
        for j in 0..<8 {
            let (sc, m) = KQuants.scaleAndMin(j) { packed[$0] }
            step[j] = d * Float(sc)
            shift[j] = dmin * Float(m)
        }
        // Where a sub-block's step is zero, the scalar code keeps the fit's levels (ggml's `if (!d) continue;`).
        let keepFit = Self.mask(step .== 0)
        for i in 0..<32 {
            let v = lanes8[i]
            let requantized = Self.clamp(Self.nearestInt((v + shift) / step), 0, top)
            let fitted = Self.clamp(Self.nearestInt(fit.inverse * (v - fit.shift)), 0, top) & ~fit.flat
            let level = (requantized & ~keepFit) | (fitted & keepFit)
            for j in 0..<8 { levels[32 * j + i] = UInt8(truncatingIfNeeded: level[j]) }
        }
        storeAffine(type, dBits: dBits, dminBits: dminBits, into: out)
    }

    /// `fitAffine` on the 8 sub-blocks at once: each lane's scale and (negated) minimum, and the step (`inverse`) and
    /// `shift` the best levels came from (`flat` lanes, all values equal, have levels 0).
    @inline(__always)
    func fitAffineLanes(top: Int32, rmin: Float, rdelta: Float, steps: Int)
        -> (scale: Lanes8, min: Lanes8, inverse: Lanes8, shift: Lanes8, flat: SIMD8<Int32>)
    {
        var lo = lanes8[0], hi = lanes8[0]
        var sumW = weights8[0]
        var sumX = sumW * lanes8[0]
        for i in 1..<32 {
            let v = lanes8[i]
            lo = Self.select(Self.mask(v .< lo), v, lo)
            hi = Self.select(Self.mask(v .> hi), v, hi)
            sumW = sumW + weights8[i]
            sumX = sumX + weights8[i] * v
        }
        let zero = Lanes8(repeating: 0)
        lo = Self.select(Self.mask(lo .> 0), zero, lo)
        let flat = Self.mask(hi .== lo)
        let flatMin = lo
        var inverse = Float(top) / (hi - lo)
        var scale = 1 / inverse
        var bestError = zero
        for i in 0..<32 {
            let fl = Self.float(Self.clamp(Self.nearestInt(inverse * (lanes8[i] - lo)), 0, top))
            var diff = scale * fl + lo - lanes8[i]
            diff = diff * diff
            bestError = bestError + weights8[i] * diff
        }
        var bestInverse = inverse, bestShift = lo
        for step in 0...steps {
            inverse = Lanes8(repeating: rmin + rdelta * Float(step) + Float(top)) / (hi - lo)
            var sumL = zero, sumL2 = zero, sumXL = zero
            for i in 0..<32 {
                let fl = Self.float(Self.clamp(Self.nearestInt(inverse * (lanes8[i] - lo)), 0, top))
                candidate8[i] = fl
                let w = weights8[i]
                sumL = sumL + w * fl
                sumL2 = sumL2 + w * fl * fl
                sumXL = sumXL + w * fl * lanes8[i]
            }
            let determinant = sumW * sumL2 - sumL * sumL
            var thisScale = (sumW * sumXL - sumX * sumL) / determinant
            var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
            let positive = Self.mask(thisMin .> 0)
            thisMin = Self.select(positive, zero, thisMin)
            thisScale = Self.select(positive, sumXL / sumL2, thisScale)
            var error = zero
            for i in 0..<32 {
                var diff = thisScale * candidate8[i] + thisMin - lanes8[i]
                diff = diff * diff
                error = error + weights8[i] * diff
            }
            let better = Self.mask(determinant .> 0) & Self.mask(error .< bestError)
            bestInverse = Self.select(better, inverse, bestInverse)
            bestShift = Self.select(better, lo, bestShift)
            bestError = Self.select(better, error, bestError)
            scale = Self.select(better, thisScale, scale)
            lo = Self.select(better, thisMin, lo)
        }
        return (Self.select(flat, zero, scale), -Self.select(flat, flatMin, lo), bestInverse, bestShift, flat)
    }

    /// Q6_K with the sub-block fits in lanes, 8 sub-blocks at a time (16 lanes, `SIMD16`, measured slower: they
    /// spill SSE registers); the same bytes as `encodeQ6K`.
    func encodeQ6KLanes(into out: UnsafeMutableRawBufferPointer) {
        // Lane j of `lanes8[16 h + i]` is value i of sub-block 8 h + j.
        for b in 0..<16 {
            for i in 0..<16 { lanes8[16 * (b / 8) + i][b % 8] = x[16 * b + i] }
        }
        let first = fitSignedLanes(base: 0), second = fitSignedLanes(base: 16)
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for b in 0..<16 {
            let scale = b < 8 ? first.scale[b] : second.scale[b - 8]
            scales[b] = scale
            if abs(scale) > maxAbsScale {
                maxAbsScale = abs(scale)
                maxScale = scale
            }
        }
        guard let dBits = packSignedScales(maxScale: maxScale, maxAbsScale: maxAbsScale, into: out) else { return }
        let d = KQuants.float(fromHalf: dBits)
        for h in 0..<2 {
            let fit = h == 0 ? first : second
            var step = Lanes8(repeating: 0)
            for j in 0..<8 { step[j] = d * Float(packedScales[8 * h + j]) }
            let keepFit = Self.mask(step .== 0)
            for i in 0..<16 {
                let v = lanes8[16 * h + i]
                let requantized = Self.clamp(Self.nearestInt(v / step), -32, 31) &+ 32
                let fitted = (Self.clamp(Self.nearestInt(fit.inverse * v), -32, 31) &+ 32) & ~fit.negligible
                let level = (requantized & ~keepFit) | (fitted & keepFit)
                for j in 0..<8 { levels[16 * (8 * h + j) + i] = UInt8(truncatingIfNeeded: level[j]) }
            }
        }
        storeQ6K(dBits: dBits, into: out)
    }

    /// `fitSigned` on 8 sub-blocks at once (values `lanes8[base..<base + 16]`): each lane's scale and the step its
    /// best levels came from (`negligible` lanes, max |x| below ggml's GROUP_MAX_EPS, have scale 0 and levels 0).
    /// The weights `x²` and `x²·x` are the same products in every step, so they are computed once.
    @inline(__always)
    func fitSignedLanes(base: Int) -> (scale: Lanes8, inverse: Lanes8, negligible: SIMD8<Int32>) {
        let zero = Lanes8(repeating: 0)
        var maxValue = zero, amax = zero
        for i in 0..<16 {
            let v = lanes8[base + i]
            let a = Self.magnitude(v)
            let larger = Self.mask(a .> amax)
            amax = Self.select(larger, a, amax)
            maxValue = Self.select(larger, v, maxValue)
            weights8[i] = v * v
            candidate8[i] = weights8[i] * v
        }
        let negligible = Self.mask(amax .< KQuants.groupMaxEpsilon)
        var inverse = Lanes8(repeating: -32) / maxValue
        var sumLX = zero, sumL2 = zero
        for i in 0..<16 {
            let fl = Self.float(Self.clamp(Self.nearestInt(inverse * lanes8[base + i]), -32, 31))
            sumLX = sumLX + candidate8[i] * fl
            sumL2 = sumL2 + weights8[i] * fl * fl
        }
        var scale = Self.select(Self.mask(sumL2 .!= 0), sumLX / sumL2, zero)
        var best = scale * sumLX
        var bestInverse = inverse
        for step in -9...9 where step != 0 {
            inverse = Lanes8(repeating: -(32 + 0.1 * Float(step))) / maxValue
            sumLX = zero
            sumL2 = zero
            for i in 0..<16 {
                let fl = Self.float(Self.clamp(Self.nearestInt(inverse * lanes8[base + i]), -32, 31))
                sumLX = sumLX + candidate8[i] * fl
                sumL2 = sumL2 + weights8[i] * fl * fl
            }
            let better = Self.mask(sumL2 .> 0) & Self.mask(sumLX * sumLX .> best * sumL2)
            let thisScale = sumLX / sumL2
            bestInverse = Self.select(better, inverse, bestInverse)
            scale = Self.select(better, thisScale, scale)
            best = Self.select(better, thisScale * sumLX, best)
        }
        return (Self.select(negligible, zero, scale), bestInverse, negligible)
    }

    // MARK: Lane helpers (integer masks and bit selects: the generic `SIMDMask` / `replacing` paths vectorise badly)

    @inline(__always) static func mask(_ m: SIMDMask<SIMD8<Int32>>) -> SIMD8<Int32> { unsafeBitCast(m, to: SIMD8<Int32>.self) }

    /// `ifTrue` where `mask` is all ones, `ifFalse` where it is zero.
    @inline(__always) static func select(_ mask: SIMD8<Int32>, _ ifTrue: Lanes8, _ ifFalse: Lanes8) -> Lanes8 {
        let a = unsafeBitCast(ifTrue, to: SIMD8<Int32>.self), b = unsafeBitCast(ifFalse, to: SIMD8<Int32>.self)
        return unsafeBitCast((a & mask) | (b & ~mask), to: Lanes8.self)
    }

    /// `abs` of each lane (the sign bit cleared, as `abs(Float)` does).
    @inline(__always) static func magnitude(_ v: Lanes8) -> Lanes8 { unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Lanes8.self) }

    /// `KQuants.nearestInt` of each lane.
    @inline(__always) static func nearestInt(_ v: Lanes8) -> SIMD8<Int32> {
        (unsafeBitCast(v + 12_582_912, to: SIMD8<Int32>.self) & 0x007F_FFFF) &- 0x0040_0000
    }

    /// `max(low, min(high, l))` of each lane, by integer arithmetic (the generic `pointwiseMin` / `pointwiseMax`
    /// are not inlined); for |l| < 2^30, which `nearestInt`'s results (below 2^22) are.
    @inline(__always) static func clamp(_ l: SIMD8<Int32>, _ low: Int32, _ high: Int32) -> SIMD8<Int32> {
        let over = l &- high
        let below = high &+ (over & (over &>> 31))
        let under = below &- low
        return low &+ (under & ~(under &>> 31))
    }

    /// `Float(l)` of each lane for |l| < 2^22: l added to the bits of 1.5·2^23 is the float 1.5·2^23 + l, exactly,
    /// and taking 1.5·2^23 off leaves l (the generic integer-to-float conversion is not inlined).
    @inline(__always) static func float(_ l: SIMD8<Int32>) -> Lanes8 {
        unsafeBitCast(l &+ 0x4B40_0000, to: Lanes8.self) - 12_582_912
    }
}
