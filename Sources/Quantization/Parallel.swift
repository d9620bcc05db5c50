import Dispatch

/// Splits `0..<count` into ranges of `chunk` items and runs `body` on them over the cores (quantizer blocks are
/// independent, so the order does not matter).
func forEachChunk(of count: Int, size chunk: Int, _ body: @Sendable (Range<Int>) -> Void) {
    guard count > 0 else { return }
    DispatchQueue.concurrentPerform(iterations: (count + chunk - 1) / chunk) { c in
        body((c * chunk)..<min(count, (c + 1) * chunk))
    }
}
