import Dispatch
import Synchronization

/// Work split over the cores: the one place where ModelPort lends memory to several threads at once.
package enum Parallel {
    /// The cores online.
    package static let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// Fills `output`, `rows` rows of equal width, with contiguous blocks of rows computed on the cores at once.
    ///
    /// `body(rows, slice)` runs once per block (one block per core at most, each of at least `minimumRows` rows; one
    /// block, on the calling thread, when there are fewer) and gets the mutable slice holding exactly those rows.
    /// The contract that makes lending the buffer sound: `body` writes only its own slice, and reads only memory that
    /// no block writes. It need not be `@Sendable` because it runs, and every block finishes, before `fill` returns.
    package static func fill<Element>(
        _ output: UnsafeMutableBufferPointer<Element>, rows: Int, minimumRows: Int = 1,
        _ body: (_ rows: Range<Int>, _ slice: UnsafeMutableBufferPointer<Element>) -> Void
    ) {
        precondition(rows >= 0 && (rows == 0 ? output.isEmpty : output.count % rows == 0), "rows must divide the buffer")
        let blocks = min(cores, rows / max(minimumRows, 1))
        guard blocks > 1, let base = output.baseAddress else { return body(0..<rows, output) }
        let width = output.count / rows
        withoutActuallyEscaping(body) { body in
            let lent = LentRows(base: base, width: width, body: body)
            DispatchQueue.concurrentPerform(iterations: blocks) { block in
                lent.run((block * rows / blocks)..<((block + 1) * rows / blocks))
            }
        }
    }
}

extension Parallel {
    /// Runs `body` over `0..<count` in consecutive ranges of `chunk` items on the cores, lending it `value` (the
    /// buffers it reads and writes).
    ///
    /// The contract that makes lending sound: each range writes only memory that belongs to its own items, and reads
    /// only memory that no range writes. `body` need not be `@Sendable`: it runs, and every range finishes, before
    /// `forEachChunk` returns.
    package static func forEachChunk<Value>(
        of count: Int, size chunk: Int, lending value: Value, _ body: (_ range: Range<Int>, _ value: Value) -> Void
    ) {
        precondition(chunk > 0)
        guard count > 0 else { return }
        let chunks = (count + chunk - 1) / chunk
        guard chunks > 1 else { return body(0..<count, value) }
        withoutActuallyEscaping(body) { body in
            let lent = Lent(value: value, body: body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                lent.body((c * chunk)..<min(count, (c + 1) * chunk), lent.value)
            }
        }
    }

    /// A checksum of `bytes` continuing from `start`: `serial` itself for up to 8 MB, else 8 MB parts checksummed over
    /// the cores from `initial` and joined in order by `combine` (the checksum of a concatenation from its parts'
    /// checksums and the later part's length, as CRCs allow).
    package static func checksum<C>(
        of bytes: UnsafeRawBufferPointer, continuing start: C, serial: (UnsafeRawBufferPointer, C) -> C,
        initial: C, combine: (_ running: C, _ part: C, _ partLength: Int) -> C
    ) -> C {
        let part = 8 << 20
        guard bytes.count > part else { return serial(bytes, start) }
        var value = start
        for (i, partChecksum) in mapChunks(of: bytes, size: part, { serial($0, initial) }).enumerated() {
            value = combine(value, partChecksum, min(part, bytes.count - i * part))
        }
        return value
    }

    /// Splits `bytes` into consecutive chunks of `chunk` bytes (the last one shorter), runs `body` on each over the
    /// cores, and returns the results in chunk order: for checksums whose parts combine (zip CRC-32) and other work on
    /// large read-only buffers. `body` only reads.
    package static func mapChunks<R>(of bytes: UnsafeRawBufferPointer, size chunk: Int, _ body: (UnsafeRawBufferPointer) -> R) -> [R] {
        precondition(chunk > 0)
        let count = (bytes.count + chunk - 1) / chunk
        guard count > 1 else { return [body(bytes)] }
        var results = [R?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { slots in
            forEachChunk(of: count, size: 1, lending: (bytes, slots)) { range, lent in
                let (bytes, slots) = lent
                for i in range {
                    slots[i] = body(UnsafeRawBufferPointer(rebasing: bytes[(i * chunk)..<min(bytes.count, (i + 1) * chunk)]))
                }
            }
        }
        return results.map { $0! }
    }
}

extension Parallel {
    /// Runs `first` and `second` at once on two cores (one after the other on a single core) and returns when both
    /// have: a check or checksum that reads a source beside the kernel-side copy of the same bytes. When both throw,
    /// `first`'s error is the one thrown. They must not touch the same memory.
    package static func both(_ first: () throws -> Void, _ second: () throws -> Void) throws {
        guard cores > 1 else {
            try first()
            return try second()
        }
        let failures = Failures()
        withoutActuallyEscaping(first) { first in
            withoutActuallyEscaping(second) { second in
                forEachChunk(of: 2, size: 1, lending: failures) { job, failures in
                    do { try job.lowerBound == 0 ? first() : second() } catch { failures.record(error, slot: job.lowerBound) }
                }
            }
        }
        try failures.throwFirst()
    }
}

/// Errors of jobs run at once, by slot; the lowest slot's is thrown.
private final class Failures: Sendable {
    private let errors = Mutex<[Int: any Error]>([:])

    func record(_ error: any Error, slot: Int) { errors.withLock { $0[slot] = error } }

    func throwFirst() throws {
        if let first = errors.withLock({ $0.min { $0.key < $1.key }?.value }) { throw first }
    }
}

/// What one `forEachChunk` lends its ranges. `@unchecked Sendable` under that call's contract, and it does not
/// outlive the call.
private struct Lent<Value>: @unchecked Sendable {
    let value: Value
    let body: (Range<Int>, Value) -> Void
}

/// One `fill`: the buffer and the body, shared by its blocks. `@unchecked Sendable` under `fill`'s contract (disjoint
/// slices written, nothing read that another block writes), and it does not outlive the call.
private struct LentRows<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
    let width: Int
    let body: (Range<Int>, UnsafeMutableBufferPointer<Element>) -> Void

    func run(_ rows: Range<Int>) {
        body(rows, UnsafeMutableBufferPointer(start: base + rows.lowerBound * width, count: rows.count * width))
    }
}
