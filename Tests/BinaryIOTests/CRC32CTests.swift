import BinaryIO
import Testing

@Suite struct CRC32CTests {
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
}
