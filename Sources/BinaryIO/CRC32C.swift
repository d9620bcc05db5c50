import CSystemShims

/// CRC-32C (Castagnoli), as TensorFlow and LevelDB use it, plus their "masked" form
/// (RFC 3720 appendix B.4).
public enum CRC32C {
    private static let tables: [[UInt32]] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            tables[0][i] = c
        }
        for i in 0..<256 {
            for t in 1..<8 { tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][Int(tables[t - 1][i] & 0xFF)] }
        }
        return tables
    }()

    /// The CRC of `bytes`, continuing from `crc` (0 to start). A large buffer is checksummed in 8 MB parts over the
    /// cores and the parts joined with `combine`.
    package static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        Parallel.checksum(of: bytes, continuing: crc, serial: { serialChecksum($0, continuing: $1) }, initial: 0) {
            combine($0, $1, secondLength: $2)
        }
    }

    /// The CRC of `a ‖ b` from `crc(a)`, `crc(b)` and the length of `b`: `crc(a)` carried over `b`'s length in zero
    /// bits (a multiplication by x^(8·length) modulo the polynomial), then added to `crc(b)`; the initial and final
    /// inversions cancel. This is the algebra behind zlib's `crc32_combine`, for the Castagnoli polynomial.
    package static func combine(_ first: UInt32, _ second: UInt32, secondLength: Int) -> UInt32 {
        precondition(secondLength >= 0)
        // x^(8·length) as the product of x^(2^k) over the set bits k of 8·length (powers[k] = x^(2^k) mod P).
        var shift: UInt32 = 1 << 31  // x^0 (bit-reflected: the top bit is the constant term)
        var bits = UInt64(secondLength) << 3
        var k = 0
        while bits != 0 {
            if bits & 1 != 0 { shift = multiply(shift, powers[k]) }
            bits >>= 1
            k += 1
        }
        return multiply(shift, first) ^ second
    }

    /// `a · b mod P` for bit-reflected polynomials of degree < 32.
    private static func multiply(_ a: UInt32, _ b: UInt32) -> UInt32 {
        var product: UInt32 = 0
        var b = b
        var bit: UInt32 = 1 << 31
        while bit != 0 {
            if a & bit != 0 { product ^= b }
            b = b & 1 != 0 ? (b >> 1) ^ 0x82F6_3B78 : b >> 1  // b · x
            bit >>= 1
        }
        return product
    }

    /// x^(2^k) mod P for k in 0..<64.
    private static let powers: [UInt32] = {
        var powers: [UInt32] = [1 << 30]  // x^1
        for _ in 1..<64 { powers.append(multiply(powers[powers.count - 1], powers[powers.count - 1])) }
        return powers
    }()

    private static func serialChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var state = ~crc
        if let base = bytes.baseAddress, modelport_crc32c_hardware(&state, base, bytes.count) == 1 { return ~state }
        return tableChecksum(bytes, continuing: crc)
    }

    /// The portable slicing-by-8 table implementation (used when the processor has no CRC instruction).
    package static func tableChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        var i = 0
        let n = bytes.count
        tables.withUnsafeBufferPointer { t in
            let t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7]
            t0.withUnsafeBufferPointer { t0 in t1.withUnsafeBufferPointer { t1 in t2.withUnsafeBufferPointer { t2 in
            t3.withUnsafeBufferPointer { t3 in t4.withUnsafeBufferPointer { t4 in t5.withUnsafeBufferPointer { t5 in
            t6.withUnsafeBufferPointer { t6 in t7.withUnsafeBufferPointer { t7 in
                while i + 8 <= n {
                    let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                    let low = UInt32(truncatingIfNeeded: word) ^ c
                    let high = UInt32(truncatingIfNeeded: word >> 32)
                    c = t7[Int(low & 0xFF)] ^ t6[Int((low >> 8) & 0xFF)] ^ t5[Int((low >> 16) & 0xFF)] ^ t4[Int(low >> 24)]
                        ^ t3[Int(high & 0xFF)] ^ t2[Int((high >> 8) & 0xFF)] ^ t1[Int((high >> 16) & 0xFF)] ^ t0[Int(high >> 24)]
                    i += 8
                }
                while i < n {
                    c = t0[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                    i += 1
                }
            }}}}}}}}
        }
        return ~c
    }

    /// The CRC of an array of bytes.
    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// TensorFlow/LevelDB's mask: `rotr(c, 15) + 0xA282EAD8`, so a CRC of data that embeds CRCs stays useful.
    public static func mask(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8 }

    /// The inverse of `mask`.
    public static func unmask(_ masked: UInt32) -> UInt32 {
        let rotated = masked &- 0xA282_EAD8
        return (rotated >> 17) | (rotated << 15)
    }
}
