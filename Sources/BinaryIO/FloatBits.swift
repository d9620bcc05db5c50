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
