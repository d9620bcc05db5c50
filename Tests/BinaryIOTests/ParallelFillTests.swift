import BinaryIO
import Foundation
import Testing

@Suite struct ParallelTests {
    @Test(arguments: [0, 1, 7, 16, 33, 1000])
    func fillGivesEachRowToExactlyOneBlockWithItsOwnSlice(rows: Int) {
        let width = 3
        let buffer = UnsafeMutableBufferPointer<Int>.allocate(capacity: rows * width)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: -1)
        let lock = NSLock()
        var blocks = 0
        Parallel.fill(buffer, rows: rows, minimumRows: 4) { range, slice in
            lock.withLock { blocks += 1 }
            #expect(slice.count == range.count * width)
            #expect(range.isEmpty || slice.baseAddress == buffer.baseAddress! + range.lowerBound * width)
            for (i, row) in range.enumerated() { for c in 0..<width { slice[i * width + c] = row * width + c } }
        }
        #expect(Array(buffer) == Array(0..<(rows * width)), "every element written once, by the block owning its row")
        #expect(blocks == max(1, min(Parallel.cores, rows / 4)))
    }
}
