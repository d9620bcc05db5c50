import BinaryIO
import TestSupport
import Testing

@Suite struct FloatBitsTests {
    @Test func everyHalfRoundTripsThroughFloat() {
        for h in 0...UInt16.max {
            let f = FloatBits.floatBits(fromHalfBits: h)
            let isNaN = (h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0
            if isNaN {
                #expect(Float(bitPattern: f).isNaN)
                #expect(FloatBits.halfBits(fromFloatBits: f) == h | 0x0200, "NaN \(h) keeps sign and payload, quieted")
            } else {
                #expect(FloatBits.halfBits(fromFloatBits: f) == h, "half \(h)")
            }
        }
    }

    @Test func everyBFloat16RoundTripsThroughFloat() {
        for b in 0...UInt16.max {
            let f = FloatBits.floatBits(fromBFloat16Bits: b)
            let isNaN = (b & 0x7F80) == 0x7F80 && (b & 0x007F) != 0
            #expect(FloatBits.bfloat16Bits(fromFloatBits: f) == (isNaN ? b | 0x0040 : b), "bfloat16 \(b)")
        }
    }

    static let halfCases: [(Float, UInt16)] = [
        (1.0, 0x3C00), (65504, 0x7BFF), (65519.996, 0x7BFF), (65520, 0x7C00), (-1e10, 0xFC00),
        (Float.infinity, 0x7C00), (5.9604645e-08, 0x0001), (2.9802322e-08, 0x0000), (2.9802326e-08, 0x0001),
        (1.00048828125, 0x3C00), (1.00146484375, 0x3C02), (-0.0, 0x8000), (6.1035156e-05, 0x0400),
    ]

    @Test(arguments: halfCases)
    func halfRoundsToNearestEven(value: Float, expected: UInt16) {
        #expect(FloatBits.halfBits(fromFloatBits: value.bitPattern) == expected)
    }

    @Test func bfloat16RoundsToNearestEven() {
        #expect(FloatBits.bfloat16Bits(fromFloatBits: Float(1.0).bitPattern) == 0x3F80)
        #expect(FloatBits.bfloat16Bits(fromFloatBits: 0x3F80_8000) == 0x3F80)  // tie → even
        #expect(FloatBits.bfloat16Bits(fromFloatBits: 0x3F81_8000) == 0x3F82)  // tie → even (up)
        #expect(FloatBits.bfloat16Bits(fromFloatBits: 0x3F80_8001) == 0x3F81)
        #expect(FloatBits.bfloat16Bits(fromFloatBits: 0x7F7F_FFFF) == 0x7F80)  // overflow → inf
        #expect(FloatBits.bfloat16Bits(fromFloatBits: 0xFFC0_0001) == 0xFFC0)  // NaN keeps sign
    }

    /// The eight-lane conversions against the scalar ones, on every 2^32 / 2^24 spaced bit pattern plus each one's
    /// neighbours (crossing every rounding boundary of every exponent) and a random sweep; prints the seed.
    @Test func laneConversionsMatchTheScalarOnes() {
        var patterns: [UInt32] = []
        for high in stride(from: UInt32(0), through: 0xFF00_0000, by: 0x0100_0000) {
            for low: UInt32 in [0, 1, 0xFFF, 0x1000, 0x1001, 0x1FFF, 0x2000, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x7F_FFFF] {
                patterns += [high | low, high | (0x80_0000 | low), (high | low) &- 1]
            }
        }
        for e in 0..<256 {
            for low: UInt32 in [0, 0x1000, 0x3000, 0x0FFF, 0x1001, 0x7F_F000, 0x7F_FFFF, 0x40_0000] {
                patterns += [(UInt32(e) << 23) | low, 0x8000_0000 | (UInt32(e) << 23) | low]
            }
        }
        let seed = UInt64.random(in: 0...UInt64.max)
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<200_000 { patterns.append(UInt32(truncatingIfNeeded: generator.next())) }
        while patterns.count % 8 != 0 { patterns.append(0x7F80_0000) }
        var mismatches = 0
        for start in stride(from: 0, to: patterns.count, by: 8) {
            let lanes = SIMD8<UInt32>(patterns[start..<(start + 8)])
            let halves = FloatBits.halfBits(fromFloatBits: lanes), brains = FloatBits.bfloat16Bits(fromFloatBits: lanes)
            for i in 0..<8 where halves[i] != FloatBits.halfBits(fromFloatBits: lanes[i]) || brains[i] != FloatBits.bfloat16Bits(fromFloatBits: lanes[i]) {
                if mismatches < 5 { Issue.record("bits \(String(lanes[i], radix: 16)): lanes \(halves[i]) / \(brains[i]), scalar \(FloatBits.halfBits(fromFloatBits: lanes[i])) / \(FloatBits.bfloat16Bits(fromFloatBits: lanes[i])) (seed \(seed))") }
                mismatches += 1
            }
        }
        #expect(mismatches == 0, "seed \(seed)")
    }
}
