import Dispatch

/// Work split over the cores: the one place where ModelPort lends memory to several threads at once.
public enum Parallel {
    /// The cores online.
    public static let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// Fills `output`, `rows` rows of equal width, with contiguous blocks of rows computed on the cores at once.
    ///
    /// `body(rows, slice)` runs once per block (one block per core at most, each of at least `minimumRows` rows; one
    /// block, on the calling thread, when there are fewer) and gets the mutable slice holding exactly those rows.
    /// The contract that makes lending the buffer sound: `body` writes only its own slice, and reads only memory that
    /// no block writes. It need not be `@Sendable` because it runs, and every block finishes, before `fill` returns.
    public static func fill<Element>(
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
