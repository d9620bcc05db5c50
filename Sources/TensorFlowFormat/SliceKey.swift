/// The key under which TensorFlow stores one slice of a partitioned variable: an OrderedCode encoding of
/// the name and the slice's extents (TensorFlow's `tensor_slice.cc`).
enum SliceKey {
    /// `(start, length)` per dimension; length `nil` is the whole dimension.
    static func encode(name: [UInt8], extents: [(start: Int64, length: Int64?)]) -> [UInt8] {
        var out: [UInt8] = [0x00]
        for byte in name {
            switch byte {
            case 0x00: out += [0x00, 0xFF]
            case 0xFF: out += [0xFF, 0x00]
            default: out.append(byte)
            }
        }
        out += [0x00, 0x01]
        out += numIncreasing(UInt64(extents.count))
        for extent in extents {
            out += signedNumIncreasing(extent.start)
            out += signedNumIncreasing(extent.length ?? -1)
        }
        return out
    }

    /// One length byte, then the value's big-endian bytes without leading zeros.
    static func numIncreasing(_ value: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var v = value
        while v > 0 {
            bytes.insert(UInt8(v & 0xFF), at: 0)
            v >>= 8
        }
        return [UInt8(bytes.count)] + bytes
    }

    /// OrderedCode's `WriteSignedNumIncreasing`.
    static func signedNumIncreasing(_ value: Int64) -> [UInt8] {
        let x = value < 0 ? ~value : value
        if x < 64 { return [0x80 ^ UInt8(truncatingIfNeeded: value)] }
        let bitLength = 64 - x.leadingZeroBitCount
        let length = bitLength / 7 + 1  // 7–13 bits → 2 bytes, …, 63 → 10
        // The last `length` bytes of the 10-byte big-endian sign-extended value.
        var ten = [UInt8](repeating: value < 0 ? 0xFF : 0x00, count: 10)
        for i in 0..<8 { ten[9 - i] = UInt8(truncatingIfNeeded: value >> (8 * Int64(i))) }
        var bytes = Array(ten[(10 - length)...])
        let headers: [(UInt8, UInt8)] = [
            (0x80, 0), (0xC0, 0), (0xE0, 0), (0xF0, 0), (0xF8, 0), (0xFC, 0), (0xFE, 0), (0xFF, 0), (0xFF, 0x80), (0xFF, 0xC0),
        ]
        let (first, second) = headers[length - 1]
        bytes[0] ^= first
        if length > 1 { bytes[1] ^= second }
        return bytes
    }
}
