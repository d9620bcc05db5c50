import BinaryIO
import TestSupport
import Testing

@Suite struct AtomicFileTests {
    @Test func commitRenamesIntoPlace() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let file = try AtomicFile(destination: folder.file("out.bin"))
        try file.write([1, 2, 3])
        #expect(folder.contents().count == 1 && folder.contents()[0].hasSuffix(".tmp"))
        try file.commit()
        #expect(folder.contents() == ["out.bin"])
        #expect(try MappedFile(path: folder.file("out.bin")).withBytes { Array($0) } == [1, 2, 3])
    }

    @Test func abandonLeavesNothingAndKeepsTheOldFile() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let first = try AtomicFile(destination: folder.file("out.bin"))
        try first.write([9])
        try first.commit()
        do {
            let second = try AtomicFile(destination: folder.file("out.bin"), existing: .replace)
            try second.write(Array(repeating: 7, count: 3 << 20))
        }  // dropped without commit
        #expect(folder.contents() == ["out.bin"])
        #expect(try MappedFile(path: folder.file("out.bin")).withBytes { Array($0) } == [9])
    }

    /// Ranges copied by the kernel in steps, mixed with written bytes, with writeback started on its thread
    /// (several times over 40 MB): the file holds exactly the bytes in order, and a file dropped while that thread
    /// has requests in flight leaves nothing behind.
    @Test func largeCopiesAndWritesLandInOrder() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let count = 41 << 20 + 12_345
        var source = [UInt8](repeating: 0, count: count)
        var state: UInt32 = 0x9E37_79B9
        for i in source.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            source[i] = UInt8(truncatingIfNeeded: state >> 24)
        }
        try source.withUnsafeBytes { bytes in
            let file = try AtomicFile(destination: folder.file("source.bin"))
            try file.write(bytes)
            try file.commit()
        }
        let mapped = try MappedFile(path: folder.file("source.bin"))
        let pieces = [7..<(33 << 20), 0..<7, (33 << 20)..<count]
        let output = try AtomicFile(destination: folder.file("copy.bin"))
        try output.write(mapped, range: pieces[0])
        try output.write(Array(source[pieces[1]]))
        try output.write(mapped, range: pieces[2])
        try output.commit()
        let expected = pieces.flatMap { source[$0] }
        #expect(try MappedFile(path: folder.file("copy.bin")).withBytes { Array($0) } == expected)

        do {
            let dropped = try AtomicFile(destination: folder.file("dropped.bin"))
            try dropped.write(mapped, range: 0..<count)
        }
        #expect(folder.contents().sorted() == ["copy.bin", "source.bin"])
    }

    @Test func refusesAnExistingDestination() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let file = try AtomicFile(destination: folder.file("x"))
        try file.commit()
        #expect(throws: BinaryIOError.self) { try AtomicFile(destination: folder.file("x")) }
    }

    @Test func directoryReplacesOnlyOnCommit() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let first = try AtomicDirectory(destination: folder.file("model"))
        try AtomicFile(destination: first.path(for: "a")).commit()
        try first.commit()
        let second = try AtomicDirectory(destination: folder.file("model"), existing: .replace)
        try AtomicFile(destination: second.path(for: "b")).commit()
        #expect(folder.contents("model") == ["a"])
        try second.commit()
        #expect(folder.contents("model") == ["b"])
        #expect(folder.contents() == ["model"])
    }

    @Test func byteReaderStopsAtTheEnd() throws {
        let bytes: [UInt8] = [1, 0, 0, 0, 2]
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
            var reader = ByteReader(raw, path: "f", baseOffset: 10)
            #expect(try reader.read(UInt32.self, endianness: .little) == 1)
            #expect(throws: BinaryIOError.self) { try reader.read(UInt16.self, endianness: .big) }
            #expect(try reader.read(UInt8.self, endianness: .little) == 2)
            do {
                _ = try reader.readBytes(1)
                Issue.record("read past the end")
            } catch {
                #expect(String(describing: error) == "f: offset 15: truncated: needed 1 bytes, 0 bytes remain")
            }
        }
    }
}
