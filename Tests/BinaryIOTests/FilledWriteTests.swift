import BinaryIO
import TestSupport
import Testing

/// `AtomicFile.write(count:window:_:)` and `ByteWriter.writeFilled`: bytes computed in place land exactly where
/// `write` would have put them, in the windows promised, whichever path (mapped file pages for 1 MB and more, a
/// buffer below) carries them; a failure leaves no file behind.
@Suite struct FilledWriteTests {
    /// Bytes that differ from their neighbours and from any other offset's, so a misplaced window shows.
    static func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31 &+ seed) ^ ($0 >> 11)) }
    }

    /// Header 12 345 bytes (a page offset no tensor would choose), the filled bytes, a 7-byte trailer: what is in the
    /// file, and the (offset, count) of each window `fill` was given.
    static func writeFilled(count: Int, window: Int, to path: String) throws -> (file: [UInt8], windows: [[Int]]) {
        let header = pattern(12_345, seed: 1), body = pattern(count, seed: 2), trailer = pattern(7, seed: 3)
        let file = try AtomicFile(destination: path)
        try file.write(header)
        var windows: [[Int]] = []
        try file.write(count: count, window: window) { offset, bytes in
            windows.append([offset, bytes.count])
            body.withUnsafeBytes { bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + bytes.count)])) }
        }
        #expect(file.bytesWritten == header.count + count)
        try file.write(trailer)
        try file.commit()
        let written = try MappedFile(path: path).withBytes { Array($0) }
        #expect(written == header + body + trailer, "count \(count), window \(window)")
        return (written, windows)
    }

    @Test(arguments: [
        (3 << 20 | 17, 1 << 20),  // mapped, three whole windows and a short one
        (5 << 20, AtomicFile.fillWindow),  // mapped, a window larger than what remains
        (2 << 20, 1 << 20),  // mapped, windows that end exactly at the end
        (1000, 64),  // through the buffer
        (100, 4096),  // through the buffer, a window larger than what remains
    ])
    func filledBytesLandWhereWritesWould(count: Int, window: Int) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (_, windows) = try Self.writeFilled(count: count, window: window, to: folder.file("out.bin"))
        let expected = stride(from: 0, to: count, by: window).map { [$0, min(window, count - $0)] }
        #expect(windows == expected)
        #expect(folder.contents() == ["out.bin"])
    }

    @Test func zeroBytesCallNothingAndWriteNothing() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (file, windows) = try Self.writeFilled(count: 0, window: 1 << 20, to: folder.file("out.bin"))
        #expect(windows.isEmpty && file.count == 12_345 + 7)
    }

    @Test func twoMappedFillsInARowAndWritesBetween() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let first = Self.pattern(3 << 20, seed: 4), second = Self.pattern((1 << 20) + 5, seed: 5)
        let file = try AtomicFile(destination: folder.file("out.bin"))
        for (index, part) in [first, second].enumerated() {
            try file.write([UInt8(index), 9, 9])
            try file.write(count: part.count) { offset, bytes in
                part.withUnsafeBytes { bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + bytes.count)])) }
            }
        }
        try file.commit()
        #expect(try MappedFile(path: folder.file("out.bin")).withBytes { Array($0) } == [0, 9, 9] + first + [1, 9, 9] + second)
    }

    struct Refused: Error {}

    @Test(arguments: [2 << 20, 1000])
    func aFailedFillLeavesNoFileAndTheOldOneIntact(count: Int) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let old = try AtomicFile(destination: folder.file("out.bin"))
        try old.write([42])
        try old.commit()
        let file = try AtomicFile(destination: folder.file("out.bin"), existing: .replace)
        try file.write([1, 2, 3])
        var calls = 0
        #expect(throws: Refused.self) {
            try file.write(count: count, window: count / 2) { offset, bytes in
                calls += 1
                if offset > 0 { throw Refused() }
                bytes.initializeMemory(as: UInt8.self, repeating: 7)
            }
        }
        #expect(calls == 2)
        file.abandon()
        #expect(folder.contents() == ["out.bin"])
        #expect(try MappedFile(path: folder.file("out.bin")).withBytes { Array($0) } == [42])
    }

    /// A mapped fill that throws leaves the file holding what was filled and no more (its reserved tail cut off), so
    /// bytes written after it follow on.
    @Test func aFailedMappedFillIsCutBackToWhatWasFilled() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let file = try AtomicFile(destination: folder.file("out.bin"))
        try file.write([5])
        #expect(throws: Refused.self) {
            try file.write(count: 3 << 20, window: 1 << 20) { offset, bytes in
                if offset > 0 { throw Refused() }
                bytes.initializeMemory(as: UInt8.self, repeating: 6)
            }
        }
        #expect(file.bytesWritten == 1 + (1 << 20))
        try file.write([7])
        try file.commit()
        let written = try MappedFile(path: folder.file("out.bin")).withBytes { Array($0) }
        #expect(written == [5] + Array(repeating: 6, count: 1 << 20) + [7])
    }

    @Test func aFileDroppedAfterAFillLeavesNothing() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        do {
            let file = try AtomicFile(destination: folder.file("out.bin"))
            try file.write(count: 2 << 20) { _, bytes in bytes.initializeMemory(as: UInt8.self, repeating: 1) }
        }
        #expect(folder.contents().isEmpty)
    }

    @Test(arguments: [(0, 8), (10, 3), (10, 64)])
    func inMemoryWriterFillsInWindowsToo(count: Int, window: Int) throws {
        var out = ByteWriter()
        try out.write(UInt16(0xBEEF), endianness: .big)
        var offsets: [Int] = []
        try out.writeFilled(count: count, window: window) { offset, bytes in
            offsets.append(offset)
            for i in 0..<bytes.count { bytes[i] = UInt8(offset + i) }
        }
        #expect(out.bytes == [0xBE, 0xEF] + (0..<count).map { UInt8($0) })
        #expect(offsets == Array(stride(from: 0, to: count, by: window)))
    }

    @Test func streamingWriterPutsFilledBytesAfterWhatItBuffered() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let body = Self.pattern(3 << 20, seed: 6)
        var out = ByteWriter(streamingTo: try AtomicFile(destination: folder.file("out.bin")))
        try out.writeBytes([1, 2, 3])
        try out.writeFilled(count: body.count, window: 1 << 20) { offset, bytes in
            body.withUnsafeBytes { bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + bytes.count)])) }
        }
        #expect(out.offset == 3 + body.count)
        try out.writeBytes([4])
        try out.commit()
        #expect(try MappedFile(path: folder.file("out.bin")).withBytes { Array($0) } == [1, 2, 3] + body + [4])
    }
}
