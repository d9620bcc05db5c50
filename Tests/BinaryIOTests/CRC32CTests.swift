import BinaryIO
import CSystemShims
import TestSupport
import Testing

/// Serialized: two tests set the folding width, a process-wide setting, and restore it after.
@Suite(.serialized) struct CRC32CTests {
    @Test func matchesTheCheckValueAndMask() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.mask(0xE306_9283) == 0xC78A_B0E5)
        #expect(CRC32C.unmask(0xC78A_B0E5) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // The empty metaindex block's trailer CRC from the notes: mask(crc(contents ‖ type)).
        #expect(CRC32C.mask(CRC32C.checksum([0, 0, 0, 0, 1, 0, 0, 0, 0])) == 0xB0A1_F2C0)
    }

    @Test func extendsAcrossPieces() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let first = CRC32C.checksum(Array(data[..<split]))
            #expect(CRC32C.checksum(Array(data[split...]), continuing: first) == CRC32C.checksum(data))
        }
        // The hardware path (where the processor has one) and the table agree.
        data.withUnsafeBytes { bytes in
            for end in [0, 1, 7, 8, 9, 63, 64, 999, 1000] {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
                #expect(CRC32C.checksum(slice, continuing: 0x1234) == CRC32C.tableChecksum(slice, continuing: 0x1234))
            }
        }
    }

    /// The hardware path folds whole 16-byte blocks by carry-less multiplication, four 512-bit lanes (256 bytes) or four
    /// 128-bit lanes (64 bytes) at a time, and leaves the rest to the CRC instruction (x86-64): at every folding width the
    /// processor has, lengths around those steps, from any start value and alignment, give the table's CRC.
    @Test(.serialized, arguments: [512, 128, 0]) func foldedBlocksGiveTheTableCRC(width: Int32) {
        var generator = SeededGenerator(seed: 19)
        let words = (0..<(80_000 / 8 + 1)).map { _ in generator.next() }
        let data = Array(words.withUnsafeBytes { Array($0) }.prefix(80_000))
        let previous = modelport_crc_fold_limit(width)
        defer { _ = modelport_crc_fold_limit(previous) }
        data.withUnsafeBytes { bytes in
            for (start, end) in [(0, 63), (0, 64), (1, 66), (0, 255), (0, 256), (5, 262), (0, 271), (7, 4_110),
                                 (3, 49_155), (1, 73_729), (0, 80_000)] {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                #expect(CRC32C.checksum(slice, continuing: 0xC0FFEE) == CRC32C.tableChecksum(slice, continuing: 0xC0FFEE),
                        "bytes \(start)..<\(end), width \(width)")
            }
        }
    }

    @Test func combinesPartsAndSplitsLargeBuffersOverTheCores() {
        // Just over one 8 MB part (two parts), filled from a seeded generator a word at a time (the debug build is slow).
        var generator = SeededGenerator(seed: 7)
        let words = (0..<((9 << 20) + 13 + 7) / 8).map { _ in generator.next() }
        let data = Array(words.withUnsafeBytes { Array($0) }.prefix((9 << 20) + 13))
        data.withUnsafeBytes { bytes in
            for (split, end) in [(0, 0), (0, 5), (5, 5), (3, 100), (64, 1000), (1 << 20, (1 << 20) + 77)] {
                let a = CRC32C.tableChecksum(UnsafeRawBufferPointer(rebasing: bytes[0..<split]))
                let b = CRC32C.tableChecksum(UnsafeRawBufferPointer(rebasing: bytes[split..<end]))
                #expect(CRC32C.combine(a, b, secondLength: end - split)
                        == CRC32C.tableChecksum(UnsafeRawBufferPointer(rebasing: bytes[0..<end])))
            }
            // Over 8 MB the parts go to the cores and are combined: the same CRC as one pass of the table code.
            #expect(CRC32C.checksum(bytes, continuing: 0xDEAD) == CRC32C.tableChecksum(bytes, continuing: 0xDEAD))
        }
    }

    /// The zip CRC-32's carry-less folding gives the bitwise definition's CRC for every length and alignment, at every
    /// folding width the processor has (the rest after the folded prefix goes through the same bitwise loop here).
    @Test(.serialized, arguments: [512, 128, 0]) func foldsZipCRC32LikeTheBitwiseDefinition(width: Int32) {
        func bitwise(_ bytes: UnsafeRawBufferPointer, _ state: UInt32) -> UInt32 {
            var c = state
            for byte in bytes {
                c ^= UInt32(byte)
                for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
            }
            return c
        }
        var generator = SeededGenerator(seed: 11)
        let data = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(Array("123456789".utf8).withUnsafeBytes { ~bitwise($0, ~0) } == 0xCBF4_3926)
        let previous = modelport_crc_fold_limit(width)
        defer { _ = modelport_crc_fold_limit(previous) }
        data.withUnsafeBytes { bytes in
            for offset in [0, 1, 3, 8, 15] {
                for length in [0, 15, 63, 64, 65, 79, 80, 127, 128, 129, 255, 256, 257, 271, 1000, 4985] {
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
                    var state: UInt32 = 0x1357_9BDF
                    let folded = foldZipCRC32(&state, slice)
                    #expect(folded % 16 == 0 && folded <= length)
                    let rest = UnsafeRawBufferPointer(rebasing: slice[folded...])
                    #expect(bitwise(rest, state) == bitwise(slice, 0x1357_9BDF), "offset \(offset), length \(length), width \(width)")
                }
            }
        }
    }
}
