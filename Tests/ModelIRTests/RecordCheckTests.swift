import BinaryIO
import ModelIR
import Synchronization
import TestSupport
import Testing

/// A mapped record's checksum (`TensorData.mapped(_:range:checksum:)`): computed over exactly the record's bytes
/// whichever way they are read (lent from the mapping, written file to file,
/// lent in pieces, or through a slice), a mismatch throws every time, and once it has passed it is not computed again.
@Suite struct RecordCheckTests {
    /// A file of 9 MB + 5 bytes (more than one of `withPieces`' and the check's pieces) with the record at offset 3.
    static func record(in folder: TemporaryFolder) throws -> (file: MappedFile, range: Range<Int>, bytes: [UInt8]) {
        var generator = SeededGenerator(seed: 7)
        let bytes = (0..<(9 << 20 | 5)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let output = try AtomicFile(destination: folder.file("data.bin"))
        try output.write([1, 2, 3] + bytes + [4, 5])
        try output.commit()
        return (try MappedFile(path: folder.file("data.bin")), 3..<(3 + bytes.count), bytes)
    }

    /// An order-sensitive checksum (so pieces out of order or twice would show), its expected value, and a counter of
    /// the bytes it was computed over.
    static func checksum(expecting bytes: [UInt8], off: UInt32 = 0) -> (RecordChecksum, Counter) {
        @Sendable func step(_ running: UInt32, _ piece: UnsafeRawBufferPointer) -> UInt32 {
            piece.reduce(running) { $0 &* 31 &+ UInt32($1) }
        }
        let expected = bytes.withUnsafeBytes { step(0, $0) } &+ off
        let seen = Counter()
        let checksum = RecordChecksum(update: { running, piece in
            seen.value.add(piece.count, ordering: .relaxed)
            return step(running, piece)
        }) { value in
            guard value == expected else { throw ModelError("checksum mismatch") }
        }
        return (checksum, seen)
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Every way of reading the data, each returning the bytes it saw (or writing them to a file and reading that).
    static func reads(_ data: TensorData, folder: TemporaryFolder) -> [(String, () throws -> [UInt8])] {
        [
            ("withBytes", { try data.withBytes { Array($0) } }),
            ("buffer", { try data.buffer().withBytes { Array($0) } }),
            ("withPieces", {
                var out: [UInt8] = []
                try data.withPieces(of: 1 << 20) { _, piece in out += piece }
                return out
            }),
            ("write", {
                let output = try AtomicFile(destination: folder.file("copy.bin"), existing: .replace)
                try data.write(to: output)
                try output.commit()
                return try MappedFile(path: folder.file("copy.bin")).withBytes { Array($0) }
            }),
        ]
    }

    @Test func aMatchingChecksumPassesOnceWhicheverWayTheDataIsReadFirst() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (file, range, bytes) = try Self.record(in: folder)
        for (first, _) in Self.reads(.mapped(file, range: range), folder: folder) {
            let (checksum, seen) = Self.checksum(expecting: bytes)
            let reads = Self.reads(.mapped(file, range: range, checksum: checksum), folder: folder)
            #expect(try reads.first { $0.0 == first }!.1() == bytes, "\(first)")
            #expect(seen.value.load(ordering: .relaxed) == bytes.count, "\(first): computed over the record once")
            for (other, read) in reads {
                #expect(try read() == bytes, "\(first), then \(other)")
            }
            #expect(seen.value.load(ordering: .relaxed) == bytes.count, "\(first): not computed again")
        }
    }

    @Test func aMismatchThrowsWhicheverWayTheDataIsRead() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (file, range, bytes) = try Self.record(in: folder)
        let (checksum, _) = Self.checksum(expecting: bytes, off: 1)
        let data = TensorData.mapped(file, range: range, checksum: checksum)
        for (name, read) in Self.reads(data, folder: folder) {
            #expect(throws: ModelError.self, "\(name)") { _ = try read() }
            #expect(throws: ModelError.self, "\(name), second time") { _ = try read() }
        }
        // A slice is checked against its whole record.
        #expect(throws: ModelError.self) { _ = try data.slice(0..<16).withBytes { Array($0) } }
        #expect(throws: ModelError.self) { _ = try data.slice(100..<(1 << 20)).withBytes { Array($0) } }
    }

    @Test func aSliceChecksItsWholeRecordOnce() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (file, range, bytes) = try Self.record(in: folder)
        let (checksum, seen) = Self.checksum(expecting: bytes)
        let data = TensorData.mapped(file, range: range, checksum: checksum)
        let slices = [data.slice(5..<100), data.slice((2 << 20)..<(7 << 20))]
        #expect(try slices[0].withBytes { Array($0) } == Array(bytes[5..<100]))
        #expect(try slices[1].withBytes { Array($0) } == Array(bytes[(2 << 20)..<(7 << 20)]))
        #expect(try data.withBytes { Array($0) } == bytes)
        #expect(seen.value.load(ordering: .relaxed) == bytes.count)
    }
}
