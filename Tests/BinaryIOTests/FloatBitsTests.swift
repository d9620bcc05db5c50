import BinaryIO
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
}
