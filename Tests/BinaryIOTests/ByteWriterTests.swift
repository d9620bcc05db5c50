import BinaryIO
import TestSupport
import Testing

@Suite struct ByteWriterTests {
    @Test func writesIntegersOfEveryWidthInTheOrderAsked() throws {
        var out = ByteWriter()
        try out.write(UInt8(0xAB), endianness: .big)
        try out.write(Int8(-2), endianness: .little)
        try out.write(UInt16(0x0102), endianness: .little)
        try out.write(UInt16(0x0102), endianness: .big)
        try out.write(Int16(-2), endianness: .big)
        try out.write(UInt32(0x0102_0304), endianness: .little)
        try out.write(UInt32(0x0102_0304), endianness: .big)
        try out.write(Int32(-2), endianness: .little)
        try out.write(UInt64(0x0102_0304_0506_0708), endianness: .little)
        try out.write(UInt64(0x0102_0304_0506_0708), endianness: .big)
        try out.write(Int64(-2), endianness: .big)
        #expect(out.bytes == [
            0xAB, 0xFE,
            0x02, 0x01, 0x01, 0x02, 0xFF, 0xFE,
            0x04, 0x03, 0x02, 0x01, 0x01, 0x02, 0x03, 0x04, 0xFE, 0xFF, 0xFF, 0xFF,
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
        ])
        #expect(out.offset == 44)
    }

    @Test func writesIEEEFloats() throws {
        var out = ByteWriter()
        try out.write(Float(1), endianness: .little)
        try out.write(Float(-2.5), endianness: .big)
        try out.write(Double(1), endianness: .little)
        try out.write(Double.infinity, endianness: .big)
        #expect(out.bytes == [
            0x00, 0x00, 0x80, 0x3F, 0xC0, 0x20, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x3F, 0x7F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ])
    }

    @Test func refusesValuesThatDoNotFitTheirField() throws {
        var out = ByteWriter()
        try out.write(255, as: UInt8.self, endianness: .little)
        try out.write(-32768, as: Int16.self, endianness: .big)
        try out.write(Int(UInt32.max), as: UInt32.self, endianness: .little)
        #expect(out.bytes == [0xFF, 0x80, 0x00, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect {
            try out.write(256, as: UInt8.self, endianness: .little)
        } throws: { String(describing: $0) == "offset 7: 256 does not fit an unsigned 8-bit field" }
        #expect {
            try out.write(-1, as: UInt64.self, endianness: .little)
        } throws: { String(describing: $0) == "offset 7: -1 does not fit an unsigned 64-bit field" }
        #expect {
            try out.write(Int(UInt32.max) + 1, as: UInt32.self, endianness: .big)
        } throws: { String(describing: $0).contains("4294967296 does not fit an unsigned 32-bit field") }
        #expect {
            try out.write(UInt64.max, as: Int64.self, endianness: .big)
        } throws: { String(describing: $0).contains("does not fit a signed 64-bit field") }
        #expect(out.offset == 7)  // nothing written by a refused value
    }

    @Test func varintsAreWhatTheReaderReads() throws {
        var out = ByteWriter()
        try out.writeVarint(300)
        #expect(out.bytes == [0xAC, 0x02])  // protobuf's encoding guide example
        let values: [UInt64] = [0, 1, 127, 128, 300, 16383, 16384, UInt64(UInt32.max), 1 << 63, .max]
        out = ByteWriter()
        for v in values { try out.writeVarint(v) }
        let decoded = try out.bytes.withUnsafeBytes { raw throws -> [UInt64] in
            var reader = ByteReader(raw)
            let decoded = try values.map { _ in try reader.readVarint() }
            #expect(reader.remaining == 0)
            return decoded
        }
        #expect(decoded == values)
    }

    @Test(arguments: [(0, 32, 0), (1, 32, 31), (31, 32, 1), (32, 32, 0), (33, 8, 7), (100, 64, 28), (5, 1, 0)])
    func padsToTheAlignment(start: Int, alignment: Int, expected: Int) throws {
        var out = ByteWriter()
        try out.writeRepeating(0x11, count: start)
        #expect(ByteWriter.padding(at: start, alignment: alignment) == expected)
        #expect(try out.pad(toMultipleOf: alignment, with: 0x5A) == expected)
        #expect(out.offset == start + expected)
        #expect(out.offset % alignment == 0)
        #expect(out.bytes.suffix(expected).allSatisfy { $0 == 0x5A })
    }

    @Test func writesBytesTextAndRepeats() throws {
        var out = ByteWriter()
        try out.writeUTF8("GGUF")
        try out.writeBytes([1, 2])
        try [UInt8](arrayLiteral: 3, 4).withUnsafeBytes { try out.writeBytes($0) }
        try out.writeZeros(2)
        try out.writeUTF8("é")
        #expect(out.bytes == [0x47, 0x47, 0x55, 0x46, 1, 2, 3, 4, 0, 0, 0xC3, 0xA9])
        #expect(throws: BinaryIOError.self) { try out.writeRepeating(0, count: -1) }
    }

    /// Mixed small and large writes (a large one goes straight to the file) land in the file in the order they
    /// were made, equal to the same writes made in memory, with the offset counted across both paths.
    @Test func streamsToAFileInOrder() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var rng = SeededGenerator(seed: 11)
        let large = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let source = folder.file("source.bin")
        let sourceFile = try AtomicFile(destination: source)
        try sourceFile.write(large)
        try sourceFile.commit()
        let mapped = try MappedFile(path: source)

        func writeAll(_ out: inout ByteWriter) throws -> [Int] {
            var offsets: [Int] = []
            for i in 0..<20_000 { try out.write(UInt32(i), endianness: .little) }  // passes the flush threshold
            offsets.append(out.offset)
            try large.withUnsafeBytes { try out.writeBytes($0) }
            offsets.append(out.offset)
            try out.write(UInt16(0xBEEF), endianness: .big)
            try out.writeContents(of: mapped, range: 5..<150_005)  // large: file to file
            offsets.append(out.offset)
            try out.writeContents(of: mapped, range: 10..<20)
            try out.pad(toMultipleOf: 4096)
            offsets.append(out.offset)
            return offsets
        }
        var memory = ByteWriter()
        let memoryOffsets = try writeAll(&memory)
        #expect(memoryOffsets == [80_000, 280_000, 430_002, 430_080])

        let path = folder.file("out.bin")
        let file = try AtomicFile(destination: path)
        var streaming = ByteWriter(streamingTo: file)
        #expect(try writeAll(&streaming) == memoryOffsets)
        try streaming.commit()
        #expect(try MappedFile(path: path).withBytes { Array($0) } == memory.bytes)
    }

    /// `flush` hands what is buffered to the file; until then small writes may sit in the writer.
    @Test func flushHandsBufferedBytesToTheFile() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let file = try AtomicFile(destination: folder.file("out.bin"))
        var out = ByteWriter(streamingTo: file)
        try out.write(UInt32(7), endianness: .little)
        #expect(file.bytesWritten == 0)
        #expect(out.offset == 4)
        try out.flush()
        #expect(file.bytesWritten == 4)
        #expect(out.offset == 4)
        file.abandon()
    }

    @Test func errorsNameTheDestination() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("out.gguf")
        let file = try AtomicFile(destination: path)
        var out = ByteWriter(streamingTo: file)
        try out.writeZeros(3)
        #expect {
            try out.write(70_000, as: UInt16.self, endianness: .little)
        } throws: { String(describing: $0) == "\(path): offset 3: 70000 does not fit an unsigned 16-bit field" }
        file.abandon()
        #expect(folder.contents().isEmpty)
    }
}

/// `MappedFile.withPieces` lends a range in pieces that join to the mapped bytes.
@Suite struct MappedPiecesTests {
    @Test(arguments: [(0, 200_000, 65_536), (7, 150_007, 1000), (199_999, 200_000, 4096), (10, 10, 8), (0, 5, 1 << 20)])
    func piecesJoinToTheMappedBytes(start: Int, end: Int, size: Int) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        var rng = SeededGenerator(seed: 12)
        let bytes = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let path = folder.file("source.bin")
        let file = try AtomicFile(destination: path)
        try file.write(bytes)
        try file.commit()
        let mapped = try MappedFile(path: path)
        var joined: [UInt8] = [], pieces = 0
        mapped.withPieces(in: start..<end, size: size) { piece in
            #expect(piece.count <= size && !piece.isEmpty)
            joined += piece
            pieces += 1
        }
        #expect(joined == Array(bytes[start..<end]))
        #expect(pieces == (end - start + size - 1) / size)
    }
}
