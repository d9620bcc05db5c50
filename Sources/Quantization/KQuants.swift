import BinaryIO
import ModelIR

/// GGUF's 256-element super-block types Q4_K, Q5_K and Q6_K (ggml's `ggml-quants.c`).
///
/// The encoders follow ggml's reference quantizers without an importance matrix (what `llama-quantize` runs when no
/// imatrix is given): Q4_K/Q5_K fit a scale and a minimum to each 32-value sub-block by a weighted least-squares search
/// over candidate steps, Q6_K fits a signed scale to each 16-value sub-block, and the sub-block parameters are then
/// quantized to 6 or 8 bits against one f16 super-scale. Every step is plain f32 arithmetic in ggml's order (its
/// library is built without FMA contraction), so the bytes equal ggml's; `Samples/generate.py` records ggml's output
/// through ctypes and the tests compare.
public enum KQuants {
    public static let types: Set<DType> = [.q4_K, .q5_K, .q6_K]
    static let superBlock = 256
    static let groupMaxEpsilon: Float = 1e-15

    /// Quantizes f32 values (a whole number of 256-value super-blocks); super-blocks are split over the cores.
    /// A NaN or infinite value is refused (the fits would return a NaN scale or clamp it to a finite level).
    package static func quantize(_ source: UnsafeRawBufferPointer, to type: DType) throws(NonFiniteValue) -> TensorBuffer {
        precondition(types.contains(type), "no K-quantizer for \(type)")
        try NonFiniteValue.check(source)
        let blocks = source.count / 4 / superBlock
        let output = TensorBuffer(count: blocks * type.blockBytes)
        output.withMutableBytes { destination in
            Parallel.forEachChunk(of: blocks, size: 256, lending: (source, destination)) { range, buffers in
                let (source, destination) = buffers
                let workspace = Workspace()
                for block in range {
                    for j in 0..<superBlock {
                        workspace.x[j] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: (block * superBlock + j) * 4, as: UInt32.self)))
                    }
                    let out = UnsafeMutableRawBufferPointer(rebasing: destination[(block * type.blockBytes)..<((block + 1) * type.blockBytes)])
                    if type == .q6_K { workspace.encodeQ6KLanes(into: out) } else { workspace.encodeAffineLanes(type, into: out) }
                }
            }
        }
        return output
    }

    /// ggml's `nearest_int`: round half to even through the f32 mantissa (valid for |v| < 2^22, like ggml's own).
    @inline(__always)
    static func nearestInt(_ v: Float) -> Int32 {
        Int32(bitPattern: (v + 12_582_912).bitPattern & 0x007F_FFFF) - 0x0040_0000
    }

    @inline(__always)
    static func float(fromHalf bits: UInt16) -> Float { Float(bitPattern: FloatBits.floatBits(fromHalfBits: bits)) }

    /// The 6-bit scale and minimum of sub-block `j` from the 12 packed bytes of a Q4_K/Q5_K super-block.
    @inline(__always)
    static func scaleAndMin(_ j: Int, _ packed: (Int) -> UInt8) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (packed(j) & 63, packed(j + 4) & 63) }
        return ((packed(j + 4) & 0x0F) | ((packed(j - 4) >> 6) << 4), (packed(j + 4) >> 4) | ((packed(j) >> 6) << 4))
    }

    /// Scratch memory for one super-block, reused across the blocks of a chunk (raw pointers: this is the hot
    /// loop, and array bounds and uniqueness checks would double its cost).
    final class Workspace {
        let x = UnsafeMutablePointer<Float>.allocate(capacity: 256)
        let levels = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        let candidate = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        let weights = UnsafeMutablePointer<Float>.allocate(capacity: 32)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: 16)
        let mins = UnsafeMutablePointer<Float>.allocate(capacity: 8)
        let packed = UnsafeMutablePointer<UInt8>.allocate(capacity: 12)
        let packedScales = UnsafeMutablePointer<Int8>.allocate(capacity: 16)
        // The lane kernels' transposed values (`KQuantLanes.swift`).
        let lanes8 = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 32)
        let weights8 = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 32)
        let candidate8 = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 32)

        init() {
            for p in [lanes8, weights8, candidate8] { p.initialize(repeating: .zero, count: 32) }
            x.initialize(repeating: 0, count: 256)
            levels.initialize(repeating: 0, count: 256)
            candidate.initialize(repeating: 0, count: 32)
            weights.initialize(repeating: 0, count: 32)
        }

        deinit {
            for p in [x, weights, scales, mins] as [UnsafeMutablePointer<Float>] { p.deallocate() }
            levels.deallocate()
            candidate.deallocate()
            packed.deallocate()
            packedScales.deallocate()
            for p in [lanes8, weights8, candidate8] { p.deallocate() }
        }

        /// Q4_K (`levels` 0…15) and Q5_K (0…31): per 32-value sub-block `x ≈ scale·q − min`.
        func encodeAffine(_ type: DType, into out: UnsafeMutableRawBufferPointer) {
            let top: Int32 = type == .q4_K ? 15 : 31
            var maxScale: Float = 0, maxMin: Float = 0
            for j in 0..<8 {
                var sumSquares: Float = 0
                for l in 0..<32 { sumSquares += x[32 * j + l] * x[32 * j + l] }
                let average = (sumSquares / 32).squareRoot()
                for l in 0..<32 { weights[l] = average + abs(x[32 * j + l]) }
                let fit = type == .q4_K
                    ? fitAffine(offset: 32 * j, top: top, rmin: -1, rdelta: 0.1, steps: 20)
                    : fitAffine(offset: 32 * j, top: top, rmin: -0.5, rdelta: 0.1, steps: 15)
                scales[j] = fit.scale
                mins[j] = fit.min
                if fit.scale > maxScale { maxScale = fit.scale }
                if fit.min > maxMin { maxMin = fit.min }
            }
            let (dBits, dminBits) = packScalesAndMins(maxScale: maxScale, maxMin: maxMin)
            let d = KQuants.float(fromHalf: dBits), dmin = KQuants.float(fromHalf: dminBits)
            for j in 0..<8 {
                let (sc, m) = KQuants.scaleAndMin(j) { packed[$0] }
                let step = d * Float(sc)
                if step == 0 { continue }
                let shift = dmin * Float(m)
                for i in 0..<32 {
                    let l = KQuants.nearestInt((x[32 * j + i] + shift) / step)
                    levels[32 * j + i] = UInt8(max(0, min(top, l)))
                }
            }
            storeAffine(type, dBits: dBits, dminBits: dminBits, into: out)
        }

        /// The 6-bit scales and minimums of `scales` / `mins` against the largest of each, packed into `packed`;
        /// returns the f16 super-scale and super-minimum.
        func packScalesAndMins(maxScale: Float, maxMin: Float) -> (d: UInt16, dmin: UInt16) {
            let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
            let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
            for i in 0..<12 { packed[i] = 0 }
            for j in 0..<8 {
                let ls = min(63, UInt8(truncatingIfNeeded: KQuants.nearestInt(inverseScale * scales[j])))
                let lm = min(63, UInt8(truncatingIfNeeded: KQuants.nearestInt(inverseMin * mins[j])))
                if j < 4 {
                    packed[j] = ls
                    packed[j + 4] = lm
                } else {
                    packed[j + 4] = (ls & 0x0F) | ((lm & 0x0F) << 4)
                    packed[j - 4] |= (ls >> 4) << 6
                    packed[j] |= (lm >> 4) << 6
                }
            }
            return (BlockQuantizer.half(maxScale / 63), BlockQuantizer.half(maxMin / 63))
        }

        /// Writes a Q4_K / Q5_K super-block from its header, `packed` and `levels`.
        func storeAffine(_ type: DType, dBits: UInt16, dminBits: UInt16, into out: UnsafeMutableRawBufferPointer) {
            out.storeBytes(of: dBits.littleEndian, toByteOffset: 0, as: UInt16.self)
            out.storeBytes(of: dminBits.littleEndian, toByteOffset: 2, as: UInt16.self)
            for i in 0..<12 { out[4 + i] = packed[i] }
            var low = 16
            if type == .q5_K {
                // Bit 4 of element 64c+l goes to bit 2c of high[l]; of element 64c+32+l to bit 2c+1.
                for i in 0..<32 { out[16 + i] = 0 }
                for c in 0..<4 {
                    for l in 0..<32 {
                        if levels[64 * c + l] > 15 { levels[64 * c + l] -= 16; out[16 + l] |= 1 << (2 * c) }
                        if levels[64 * c + 32 + l] > 15 { levels[64 * c + 32 + l] -= 16; out[16 + l] |= 2 << (2 * c) }
                    }
                }
                low = 48
            }
            for c in 0..<4 {
                for l in 0..<32 { out[low + 32 * c + l] = levels[64 * c + l] | (levels[64 * c + 32 + l] << 4) }
            }
        }

        /// ggml's `make_qkx2_quants` for one 32-value sub-block at `offset`: the scale and (negated) minimum with the
        /// least weighted squared error among `steps + 1` candidate steps; leaves the levels in `levels`.
        func fitAffine(offset: Int, top: Int32, rmin: Float, rdelta: Float, steps: Int) -> (scale: Float, min: Float) {
            var lo = x[offset], hi = x[offset]
            var sumW = weights[0]
            var sumX = sumW * x[offset]
            for i in 1..<32 {
                let v = x[offset + i]
                if v < lo { lo = v }
                if v > hi { hi = v }
                sumW += weights[i]
                sumX += weights[i] * v
            }
            if lo > 0 { lo = 0 }
            if hi == lo {
                for i in 0..<32 { levels[offset + i] = 0 }
                return (0, -lo)
            }
            var inverse = Float(top) / (hi - lo)
            var scale = 1 / inverse
            var bestError: Float = 0
            for i in 0..<32 {
                let l = KQuants.nearestInt(inverse * (x[offset + i] - lo))
                levels[offset + i] = UInt8(max(0, min(top, l)))
                var diff = scale * Float(levels[offset + i]) + lo - x[offset + i]
                diff = diff * diff
                bestError += weights[i] * diff
            }
            for step in 0...steps {
                inverse = (rmin + rdelta * Float(step) + Float(top)) / (hi - lo)
                var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
                for i in 0..<32 {
                    let l = max(0, min(top, KQuants.nearestInt(inverse * (x[offset + i] - lo))))
                    candidate[i] = UInt8(l)
                    let w = weights[i], fl = Float(l)
                    sumL += w * fl
                    sumL2 += w * fl * fl
                    sumXL += w * fl * x[offset + i]
                }
                let determinant = sumW * sumL2 - sumL * sumL
                guard determinant > 0 else { continue }
                var thisScale = (sumW * sumXL - sumX * sumL) / determinant
                var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var error: Float = 0
                for i in 0..<32 {
                    var diff = thisScale * Float(candidate[i]) + thisMin - x[offset + i]
                    diff = diff * diff
                    error += weights[i] * diff
                }
                if error < bestError {
                    for i in 0..<32 { levels[offset + i] = candidate[i] }
                    bestError = error
                    scale = thisScale
                    lo = thisMin
                }
            }
            return (scale, -lo)
        }

        /// Q6_K: per 16-value sub-block `x ≈ d·scale·(q − 32)` with q in 0…63 and an int8 scale.
        func encodeQ6K(into out: UnsafeMutableRawBufferPointer) {
            var maxScale: Float = 0, maxAbsScale: Float = 0
            for block in 0..<16 {
                let scale = fitSigned(offset: 16 * block)
                scales[block] = scale
                if abs(scale) > maxAbsScale {
                    maxAbsScale = abs(scale)
                    maxScale = scale
                }
            }
            guard let dBits = packSignedScales(maxScale: maxScale, maxAbsScale: maxAbsScale, into: out) else { return }
            let d = KQuants.float(fromHalf: dBits)
            for block in 0..<16 {
                let step = d * Float(packedScales[block])
                if step == 0 { continue }
                for i in 0..<16 {
                    let l = max(-32, min(31, KQuants.nearestInt(x[16 * block + i] / step)))
                    levels[16 * block + i] = UInt8(l + 32)
                }
            }
            storeQ6K(dBits: dBits, into: out)
        }

        /// The int8 scales of `scales` against the one of largest magnitude, into `packedScales`; returns the f16
        /// super-scale, or nil after zeroing `out` when every scale is negligible.
        func packSignedScales(maxScale: Float, maxAbsScale: Float, into out: UnsafeMutableRawBufferPointer) -> UInt16? {
            if maxAbsScale < KQuants.groupMaxEpsilon {
                for i in 0..<out.count { out[i] = 0 }
                return nil
            }
            let inverse: Float = -128 / maxScale
            for block in 0..<16 {
                packedScales[block] = Int8(truncatingIfNeeded: min(127, KQuants.nearestInt(inverse * scales[block])))
            }
            return BlockQuantizer.half(1 / inverse)
        }

        /// Writes a Q6_K super-block from `levels`, `packedScales` and its f16 scale.
        func storeQ6K(dBits: UInt16, into out: UnsafeMutableRawBufferPointer) {
            for half in 0..<2 {
                let base = 128 * half
                for l in 0..<32 {
                    let q1 = levels[base + l], q2 = levels[base + l + 32], q3 = levels[base + l + 64], q4 = levels[base + l + 96]
                    out[64 * half + l] = (q1 & 0x0F) | ((q3 & 0x0F) << 4)
                    out[64 * half + l + 32] = (q2 & 0x0F) | ((q4 & 0x0F) << 4)
                    out[128 + 32 * half + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
                }
            }
            for block in 0..<16 { out[192 + block] = UInt8(bitPattern: packedScales[block]) }
            out.storeBytes(of: dBits.littleEndian, toByteOffset: 208, as: UInt16.self)
        }

        /// ggml's `make_qx_quants` with 32 levels each side and x²-weighted error (`rmse_type` 1, no importance):
        /// tries 19 scales around `-32 / max` and keeps the one with the least weighted error. Levels go to `levels`.
        func fitSigned(offset: Int) -> Float {
            let top: Int32 = 32
            var maxValue: Float = 0, amax: Float = 0
            for i in 0..<16 {
                let a = abs(x[offset + i])
                if a > amax {
                    amax = a
                    maxValue = x[offset + i]
                }
            }
            if amax < KQuants.groupMaxEpsilon {
                for i in 0..<16 { levels[offset + i] = 0 }
                return 0
            }
            var inverse = Float(-top) / maxValue
            var sumLX: Float = 0, sumL2: Float = 0
            for i in 0..<16 {
                let v = x[offset + i]
                let l = max(-top, min(top - 1, KQuants.nearestInt(inverse * v)))
                levels[offset + i] = UInt8(l + top)
                let w = v * v, fl = Float(l)
                sumLX += w * v * fl
                sumL2 += w * fl * fl
            }
            var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
            var best = scale * sumLX
            for step in -9...9 where step != 0 {
                inverse = -(Float(top) + 0.1 * Float(step)) / maxValue
                sumLX = 0
                sumL2 = 0
                for i in 0..<16 {
                    let v = x[offset + i]
                    let fl = Float(max(-top, min(top - 1, KQuants.nearestInt(inverse * v))))
                    let w = v * v
                    sumLX += w * v * fl
                    sumL2 += w * fl * fl
                }
                if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                    for i in 0..<16 {
                        levels[offset + i] = UInt8(max(-top, min(top - 1, KQuants.nearestInt(inverse * x[offset + i]))) + top)
                    }
                    scale = sumLX / sumL2
                    best = scale * sumLX
                }
            }
            return scale
        }
    }

    /// Dequantizes super-blocks of any of these types to f32, as ggml's `dequantize_row_*`.
    package static func dequantize(_ source: UnsafeRawBufferPointer, from type: DType) -> TensorBuffer {
        precondition(types.contains(type), "no K-dequantizer for \(type)")
        let blocks = source.count / type.blockBytes
        let output = TensorBuffer(count: blocks * superBlock * 4)
        output.withMutableBytes { out in
            func store(_ value: Float, _ index: Int) {
                out.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
            for block in 0..<blocks {
                let base = block * type.blockBytes
                let first = block * superBlock
                func halfAt(_ at: Int) -> Float {
                    float(fromHalf: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: base + at, as: UInt16.self)))
                }
                if type == .q6_K {
                    let d = halfAt(208)
                    for half in 0..<2 {
                        for l in 0..<32 {
                            let lowA = source[base + 64 * half + l], lowB = source[base + 64 * half + l + 32]
                            let high = source[base + 128 + 32 * half + l]
                            for k in 0..<4 {
                                let low = k % 2 == 0 ? lowA : lowB
                                let q = Int(k < 2 ? low & 0x0F : low >> 4) | Int((high >> (2 * k)) & 3) << 4
                                let scale = Float(Int8(bitPattern: source[base + 192 + 8 * half + l / 16 + 2 * k]))
                                store(d * scale * Float(q - 32), first + 128 * half + l + 32 * k)
                            }
                        }
                    }
                    continue
                }
                let d = halfAt(0), dmin = halfAt(2)
                let low = type == .q5_K ? 48 : 16
                for c in 0..<4 {
                    for part in 0..<2 {
                        let (sc, m) = scaleAndMin(2 * c + part) { source[base + 4 + $0] }
                        let step = d * Float(sc), shift = dmin * Float(m)
                        for l in 0..<32 {
                            let byte = source[base + low + 32 * c + l]
                            var q = Int(part == 0 ? byte & 0x0F : byte >> 4)
                            if type == .q5_K, source[base + 16 + l] & (UInt8(1 + part) << (2 * c)) != 0 { q += 16 }
                            store(step * Float(q) - shift, first + 64 * c + 32 * part + l)
                        }
                    }
                }
            }
        }
        return output
    }
}
