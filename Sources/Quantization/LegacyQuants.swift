import BinaryIO
import ModelIR
import Synchronization

/// GGUF's 32-element block types Q4_0, Q4_1, Q5_0 and Q5_1 (ggml's `ggml-quants.c`), computed exactly as
/// gguf-py's `quants.py` does (all arithmetic in f32, `trunc(x·id + 8.5)` style rounding), so the bytes match it.
/// Q8_0 and the K-quants have their own files; this enum is the entry point for every GGUF block type.
/// Blocks are independent and split over the cores.
public enum BlockQuantizer {
    public static let types: Set<DType> = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K]

    /// Quantizes f32 values (a whole number of 32-element blocks). A NaN or infinite value is refused: these types
    /// would turn it into some finite level.
    package static func quantize(_ source: UnsafeRawBufferPointer, to type: DType) throws(NonFiniteValue) -> TensorBuffer {
        precondition(types.contains(type), "no quantizer for \(type)")
        if type == .q8_0 { return try Q8_0.quantize(source) }
        if KQuants.types.contains(type) { return try KQuants.quantize(source, to: type) }
        #if !_endian(little)
        try NonFiniteValue.check(source)
        #endif
        let blocks = source.count / 4 / 32
        let output = TensorBuffer(count: blocks * type.blockBytes)
        let nonFinite = Atomic<Bool>(false)
        output.withMutableBytes { destination in
            Parallel.forEachChunk(of: blocks, size: 4096, lending: (source, destination)) { range, buffers in
                let (source, destination) = buffers
                var seen = SIMD16<UInt32>.zero
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { x in
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
                        for block in range {
                            #if _endian(little)
                            if encodeLanes(source, block, type, into: destination, nonFinite: &seen) { continue }
                            #endif
                            for j in 0..<32 {
                                x[j] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: (block * 32 + j) * 4, as: UInt32.self)))
                            }
                            encode(UnsafeBufferPointer(x), type, into: destination, at: block * type.blockBytes, q: q)
                        }
                    }
                }
                if anyLane(seen & 0x8000_0000) { nonFinite.store(true, ordering: .relaxed) }
            }
        }
        // The blocks noted a NaN or infinity as they passed (one read of the input); the first is looked up to be named.
        if nonFinite.load(ordering: .relaxed) { try NonFiniteValue.check(source) }
        return output
    }

    static func half(_ v: Float) -> UInt16 { FloatBits.halfBits(fromFloatBits: v.bitPattern) }

    /// `encode` for one block, 16 lanes at a time (little-endian hosts). Every step is element-wise, or a maximum /
    /// minimum (exact in any order), so the bytes are `encode`'s; it returns false, leaving the block to `encode`,
    /// where the order could show: a minimum or maximum of zero (its sign is that of the first zero met). A block
    /// holding a NaN or an infinity sets bit 31 of a lane of `nonFinite` and is skipped (returns true, bytes unset):
    /// the caller refuses the tensor.
    @inline(__always)
    static func encodeLanes(_ source: UnsafeRawBufferPointer, _ block: Int, _ type: DType, into out: UnsafeMutableRawBufferPointer,
                            nonFinite: inout SIMD16<UInt32>) -> Bool {
        let first = block * 128
        let lo = source.loadUnaligned(fromByteOffset: first, as: SIMD16<Float>.self)
        let hi = source.loadUnaligned(fromByteOffset: first + 64, as: SIMD16<Float>.self)
        // An all-ones exponent plus one exponent step carries into bit 31; no finite exponent does.
        let exponents = ((unsafeBitCast(lo, to: SIMD16<UInt32>.self) & 0x7F80_0000) &+ 0x0080_0000)
            | ((unsafeBitCast(hi, to: SIMD16<UInt32>.self) & 0x7F80_0000) &+ 0x0080_0000)
        if anyLane(exponents & 0x8000_0000) {
            nonFinite |= exponents
            return true
        }
        var at = block * type.blockBytes
        let qlo: SIMD16<Int32>, qhi: SIMD16<Int32>
        switch type {
        case .q4_0, .q5_0:
            let alo = unsafeBitCast(lo, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF
            let ahi = unsafeBitCast(hi, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF
            let amax = max(alo.max(), ahi.max())  // magnitudes' bits: integer order is float order
            var maxValue: Float = 0
            if amax > 0 {  // the first value of that magnitude, as `encode` keeps it: the only one's sign, or a search
                let bitsLo = unsafeBitCast(lo, to: SIMD16<UInt32>.self), bitsHi = unsafeBitCast(hi, to: SIMD16<UInt32>.self)
                let negative = amax | 0x8000_0000
                let hasPositive = anyLane(LaneMask.isZero(bitsLo ^ amax) | LaneMask.isZero(bitsHi ^ amax))
                let hasNegative = anyLane(LaneMask.isZero(bitsLo ^ negative) | LaneMask.isZero(bitsHi ^ negative))
                if hasPositive != hasNegative {
                    maxValue = Float(bitPattern: hasPositive ? amax : negative)
                } else if let j = (0..<16).first(where: { alo[$0] == amax }) { maxValue = lo[j] } else if let j = (0..<16).first(where: { ahi[$0] == amax }) { maxValue = hi[j] }
            }
            let d = maxValue / (type == .q4_0 ? -8 : -16)
            let id: Float = d == 0 ? 0 : 1 / d
            if !id.isFinite { return false }
            let offset: Float = type == .q4_0 ? 8.5 : 16.5
            let top: Float = type == .q4_0 ? 15 : 31
            qlo = truncatedLevels(lo * id + offset, top: top)
            qhi = truncatedLevels(hi * id + offset, top: top)
            out.storeBytes(of: half(d).littleEndian, toByteOffset: at, as: UInt16.self)
            at += 2
        default:  // q4_1, q5_1
            let (low, high) = extremes(lo, hi)
            if low == 0 || high == 0 { return false }
            let d = (high - low) / (type == .q4_1 ? 15 : 31)
            let id: Float = d == 0 ? 0 : 1 / d
            if !id.isFinite { return false }
            let top: Float = type == .q4_1 ? 15 : 31
            qlo = truncatedLevels((lo - low) * id + 0.5, top: top)
            qhi = truncatedLevels((hi - low) * id + 0.5, top: top)
            out.storeBytes(of: half(d).littleEndian, toByteOffset: at, as: UInt16.self)
            out.storeBytes(of: half(low).littleEndian, toByteOffset: at + 2, as: UInt16.self)
            at += 4
        }
        if type == .q5_0 || type == .q5_1 {
            let weights = SIMD16<UInt32>(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
            let low = (SIMD16<UInt32>(truncatingIfNeeded: qlo) &>> 4) &* weights
            let high = (SIMD16<UInt32>(truncatingIfNeeded: qhi) &>> 4) &* weights
            let bits = low.wrappedSum() | (high.wrappedSum() << 16)
            out.storeBytes(of: bits.littleEndian, toByteOffset: at, as: UInt32.self)
            at += 4
        }
        let packed = (qlo & 0x0F) | ((qhi & 0x0F) &<< 4)
        out.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: packed), toByteOffset: at, as: SIMD16<UInt8>.self)
        return true
    }

    /// Whether any lane is non-zero, by folding halves together (`!= .zero` on a vector is a loop through memory).
    @inline(__always)
    static func anyLane(_ v: SIMD16<UInt32>) -> Bool {
        let (a, b) = unsafeBitCast(v, to: (SIMD8<UInt32>, SIMD8<UInt32>).self)
        let (c, d) = unsafeBitCast(a | b, to: (SIMD4<UInt32>, SIMD4<UInt32>).self)
        let words = unsafeBitCast(c | d, to: (UInt64, UInt64).self)
        return (words.0 | words.1) != 0
    }

    /// The least and the greatest of 32 finite values, as a tree of lane-wise selects (the horizontal `min()` /
    /// `max()` of a SIMD vector is a branchy scalar loop). Exact in any order, but for the sign of a zero result.
    @inline(__always)
    static func extremes(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> (min: Float, max: Float) {
        let low16 = select(a .< b, a, b), high16 = select(a .> b, a, b)
        let (l1, l2) = unsafeBitCast(low16, to: (SIMD8<Float>, SIMD8<Float>).self)
        let (h1, h2) = unsafeBitCast(high16, to: (SIMD8<Float>, SIMD8<Float>).self)
        let low8 = select(l1 .< l2, l1, l2), high8 = select(h1 .> h2, h1, h2)
        let (l3, l4) = unsafeBitCast(low8, to: (SIMD4<Float>, SIMD4<Float>).self)
        let (h3, h4) = unsafeBitCast(high8, to: (SIMD4<Float>, SIMD4<Float>).self)
        let low4 = select(l3 .< l4, l3, l4), high4 = select(h3 .> h4, h3, h4)
        return (min(min(low4[0], low4[1]), min(low4[2], low4[3])), max(max(high4[0], high4[1]), max(high4[2], high4[3])))
    }

    @inline(__always)
    static func select(_ mask: SIMDMask<SIMD16<Int32>>, _ ifTrue: SIMD16<Float>, _ ifFalse: SIMD16<Float>) -> SIMD16<Float> {
        let m = unsafeBitCast(mask, to: SIMD16<UInt32>.self)
        return unsafeBitCast((unsafeBitCast(ifTrue, to: SIMD16<UInt32>.self) & m) | (unsafeBitCast(ifFalse, to: SIMD16<UInt32>.self) & ~m), to: SIMD16<Float>.self)
    }

    @inline(__always)
    static func select(_ mask: SIMDMask<SIMD8<Int32>>, _ ifTrue: SIMD8<Float>, _ ifFalse: SIMD8<Float>) -> SIMD8<Float> {
        let m = unsafeBitCast(mask, to: SIMD8<UInt32>.self)
        return unsafeBitCast((unsafeBitCast(ifTrue, to: SIMD8<UInt32>.self) & m) | (unsafeBitCast(ifFalse, to: SIMD8<UInt32>.self) & ~m), to: SIMD8<Float>.self)
    }

    @inline(__always)
    static func select(_ mask: SIMDMask<SIMD4<Int32>>, _ ifTrue: SIMD4<Float>, _ ifFalse: SIMD4<Float>) -> SIMD4<Float> {
        let m = unsafeBitCast(mask, to: SIMD4<UInt32>.self)
        return unsafeBitCast((unsafeBitCast(ifTrue, to: SIMD4<UInt32>.self) & m) | (unsafeBitCast(ifFalse, to: SIMD4<UInt32>.self) & ~m), to: SIMD4<Float>.self)
    }

    /// `min(top, y.rounded(.towardZero))` of each lane, for 0 < y < 2^22 (finite values times a finite `1 / d`, plus
    /// the offset, stay in 0.5 … top + 1.5): adding 2^23 rounds to nearest and leaves the integer in the low mantissa
    /// bits; where that went above `y`, one is taken off. Integer lane operations only, so it vectorises.
    @inline(__always)
    static func truncatedLevels(_ y: SIMD16<Float>, top: Float) -> SIMD16<Int32> {
        let shifted = y + 8_388_608
        let above = unsafeBitCast((shifted - 8_388_608) - y, to: SIMD16<Int32>.self)
        let q = unsafeBitCast(unsafeBitCast(shifted, to: SIMD16<UInt32>.self) & 0x007F_FFFF, to: SIMD16<Int32>.self)
            &+ LaneMask.isPositive(above)
        let over = q &- Int32(top)  // min(q, top) = top + min(q - top, 0)
        return Int32(top) &+ (over & (over &>> 31))
    }

    static func encode(_ x: UnsafeBufferPointer<Float>, _ type: DType, into out: UnsafeMutableRawBufferPointer, at base: Int,
                       q: UnsafeMutableBufferPointer<UInt8>) {
        var header: (UInt16, UInt16?) = (0, nil)
        switch type {
        case .q4_0, .q5_0:
            // The signed value of largest magnitude (the first one on ties).
            var maxValue: Float = 0
            for v in x where abs(v) > abs(maxValue) { maxValue = v }
            let levels: Float = type == .q4_0 ? -8 : -16
            let d = maxValue / levels
            let id: Float = d == 0 ? 0 : 1 / d
            let offset: Float = type == .q4_0 ? 8.5 : 16.5
            let top: Float = type == .q4_0 ? 15 : 31
            for j in 0..<32 { q[j] = UInt8(min(top, max(0, ((x[j] * id) + offset).rounded(.towardZero)))) }
            header = (half(d), nil)
        default:  // q4_1, q5_1
            var lo = x[0], hi = x[0]
            for v in x {
                if v < lo { lo = v }
                if v > hi { hi = v }
            }
            let d = (hi - lo) / (type == .q4_1 ? 15 : 31)
            let id: Float = d == 0 ? 0 : 1 / d
            let top: Float = type == .q4_1 ? 15 : 31
            for j in 0..<32 { q[j] = UInt8(min(top, max(0, ((x[j] - lo) * id + 0.5).rounded(.towardZero)))) }
            header = (half(d), half(lo))
        }
        var at = base
        out.storeBytes(of: header.0.littleEndian, toByteOffset: at, as: UInt16.self)
        at += 2
        if let minimum = header.1 {
            out.storeBytes(of: minimum.littleEndian, toByteOffset: at, as: UInt16.self)
            at += 2
        }
        if type == .q5_0 || type == .q5_1 {
            var high: UInt32 = 0
            for j in 0..<32 { high |= UInt32(q[j] >> 4) << UInt32(j) }
            out.storeBytes(of: high.littleEndian, toByteOffset: at, as: UInt32.self)
            at += 4
        }
        for j in 0..<16 { out[at + j] = (q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4) }
    }

    /// Dequantizes blocks of any of these types to f32.
    package static func dequantize(_ source: UnsafeRawBufferPointer, from type: DType) -> TensorBuffer {
        precondition(types.contains(type), "no dequantizer for \(type)")
        if type == .q8_0 { return Q8_0.dequantize(source) }
        if KQuants.types.contains(type) { return KQuants.dequantize(source, from: type) }
        let blocks = source.count / type.blockBytes
        let output = TensorBuffer(count: blocks * 32 * 4)
        func half(_ at: Int) -> Float {
            Float(bitPattern: FloatBits.floatBits(fromHalfBits: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: at, as: UInt16.self))))
        }
        output.withMutableBytes { out in
            for block in 0..<blocks {
                var at = block * type.blockBytes
                let d = half(at)
                at += 2
                var m: Float = 0
                if type == .q4_1 || type == .q5_1 {
                    m = half(at)
                    at += 2
                }
                var high: UInt32 = 0
                if type == .q5_0 || type == .q5_1 {
                    high = UInt32(littleEndian: source.loadUnaligned(fromByteOffset: at, as: UInt32.self))
                    at += 4
                }
                for j in 0..<32 {
                    let byte = source[at + (j % 16)]
                    var q = Int(j < 16 ? byte & 0x0F : byte >> 4)
                    if type == .q5_0 || type == .q5_1 { q |= Int((high >> UInt32(j)) & 1) << 4 }
                    let value: Float
                    switch type {
                    case .q4_0: value = d * Float(q - 8)
                    case .q5_0: value = d * Float(q - 16)
                    default: value = d * Float(q) + m
                    }
                    out.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: (block * 32 + j) * 4, as: UInt32.self)
                }
            }
        }
        return output
    }
}
