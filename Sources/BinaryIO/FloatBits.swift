/// Conversions between IEEE binary32 and the 16-bit float formats, done on bit patterns so they behave the
/// same on every platform (no reliance on `Float16`, which some targets lack).
///
/// Rounding is to nearest, ties to even. Infinities stay infinities, overflow becomes infinity, and NaN
/// stays NaN: the sign and the top payload bits are kept and the quiet bit is set, as IEEE hardware
/// conversions (F16C, ARM FCVT) do.
public enum FloatBits {
    /// binary32 → binary16 (IEEE half).
    @inlinable
    public static func halfBits(fromFloatBits x: UInt32) -> UInt16 {
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let magnitude = x & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            if magnitude == 0x7F80_0000 { return sign | 0x7C00 }
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude & 0x007F_FFFF) >> 13)
        }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // ≥ 65520 rounds past the largest half
        let exponent = Int(magnitude >> 23)
        if exponent < 113 {  // below 2^-14: a half subnormal (or zero)
            let shift = 126 - exponent
            if shift >= 25 { return sign }
            let mantissa = (magnitude & 0x007F_FFFF) | 0x0080_0000
            var q = mantissa >> UInt32(shift)
            let rest = mantissa & ((1 << UInt32(shift)) - 1)
            let halfway: UInt32 = 1 << UInt32(shift - 1)
            if rest > halfway || (rest == halfway && q & 1 == 1) { q += 1 }
            return sign | UInt16(truncatingIfNeeded: q)
        }
        var h = (UInt32(exponent - 112) << 10) | ((magnitude & 0x007F_FFFF) >> 13)
        let rest = magnitude & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }
        return sign | UInt16(truncatingIfNeeded: h)
    }

    /// binary32 → binary16 for eight lanes at once, bit for bit `halfBits(fromFloatBits:)` of each, without
    /// branches or per-lane shifts (so it vectorises on any SIMD unit): normal results round by adding 0xFFF plus the
    /// kept mantissa's lowest bit before dropping 13 bits; subnormal results are the f32 sum `|x| + 0.5`, whose
    /// rounding (to nearest, ties to even) puts the half mantissa in the low bits. Cases are chosen with lane masks
    /// (`LaneMask`), not `replacing(with:where:)`, which the compiler leaves as a loop of branches.
    @inlinable
    public static func halfBits(fromFloatBits x: SIMD8<UInt32>) -> SIMD8<UInt16> {
        let sign = (x &>> 16) & 0x8000
        let magnitude = x & 0x7FFF_FFFF
        let normal = (magnitude &+ 0xC800_0FFF &+ ((magnitude &>> 13) & 1)) &>> 13  // exponent - 112, rounded
        let subnormal = unsafeBitCast(unsafeBitCast(magnitude, to: SIMD8<Float>.self) + 0.5, to: SIMD8<UInt32>.self) &- 0x3F00_0000
        var h = LaneMask.select(LaneMask.below(magnitude, 0x3880_0000), subnormal, normal)  // below 2^-14
        h = LaneMask.select(LaneMask.below(magnitude, 0x477F_F000), h, SIMD8(repeating: 0x7C00))  // past the largest half, or infinite
        h = LaneMask.select(LaneMask.below(SIMD8(repeating: 0x7F80_0000), magnitude), 0x7E00 | ((magnitude & 0x007F_FFFF) &>> 13), h)  // NaN, quiet
        return SIMD8<UInt16>(truncatingIfNeeded: h | sign)
    }

    /// binary32 → bfloat16 for eight lanes at once, bit for bit `bfloat16Bits(fromFloatBits:)` of each.
    @inlinable
    public static func bfloat16Bits(fromFloatBits x: SIMD8<UInt32>) -> SIMD8<UInt16> {
        let rounded = (x &+ 0x7FFF &+ ((x &>> 16) & 1)) &>> 16
        let nan = LaneMask.below(SIMD8(repeating: 0x7F80_0000), x & 0x7FFF_FFFF)
        return SIMD8<UInt16>(truncatingIfNeeded: LaneMask.select(nan, (x &>> 16) | 0x0040, rounded))
    }
    /// binary16 → binary32 (exact).
    @inlinable
    public static func floatBits(fromHalfBits h: UInt16) -> UInt32 {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        var mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F { return sign | 0x7F80_0000 | (mantissa << 13) }
        if exponent != 0 { return sign | ((exponent + 112) << 23) | (mantissa << 13) }
        if mantissa == 0 { return sign }
        var e: UInt32 = 113
        while mantissa & 0x0400 == 0 {
            mantissa <<= 1
            e -= 1
        }
        return sign | (e << 23) | ((mantissa & 0x03FF) << 13)
    }

    /// binary32 → bfloat16.
    @inlinable
    public static func bfloat16Bits(fromFloatBits x: UInt32) -> UInt16 {
        if x & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: (x >> 16) | 0x0040) }
        let rounded = x &+ 0x7FFF &+ ((x >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// bfloat16 → binary32 (exact).
    @inlinable
    public static func floatBits(fromBFloat16Bits b: UInt16) -> UInt32 { UInt32(b) << 16 }
}

/// Lane masks as plain integer vectors (all ones or all zeros per lane) built from subtraction and shifts, and a
/// select made of and / or: the forms that vectorise, where `SIMDMask` with `replacing(with:where:)` compiles to a
/// branch per lane.
public enum LaneMask {
    /// All ones in the lanes where `a < b`, for values below 2^31.
    @inlinable @inline(__always)
    public static func below(_ a: SIMD8<UInt32>, _ b: SIMD8<UInt32>) -> SIMD8<UInt32> {
        unsafeBitCast(unsafeBitCast(a &- b, to: SIMD8<Int32>.self) &>> 31, to: SIMD8<UInt32>.self)
    }

    @inlinable @inline(__always)
    public static func below(_ a: SIMD8<UInt32>, _ b: UInt32) -> SIMD8<UInt32> { below(a, SIMD8(repeating: b)) }

    /// `ifTrue` in the lanes where `mask` is all ones, `ifFalse` elsewhere.
    @inlinable @inline(__always)
    public static func select(_ mask: SIMD8<UInt32>, _ ifTrue: SIMD8<UInt32>, _ ifFalse: SIMD8<UInt32>) -> SIMD8<UInt32> {
        (ifTrue & mask) | (ifFalse & ~mask)
    }

    /// 1 in the lanes that are zero, 0 elsewhere.
    @inlinable @inline(__always)
    public static func isZero(_ a: SIMD16<UInt32>) -> SIMD16<UInt32> {
        ((a | (0 &- a)) &>> 31) ^ 1
    }

    /// -1 in the lanes where `a > 0` (as signed), 0 elsewhere.
    @inlinable @inline(__always)
    public static func isPositive(_ a: SIMD16<Int32>) -> SIMD16<Int32> {
        ((~a) & (0 &- a)) &>> 31
    }
}
