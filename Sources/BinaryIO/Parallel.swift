import Dispatch

/// Splits `bytes` into consecutive chunks of `chunk` bytes (the last one shorter), runs `body` on each over all cores,
/// and returns the results in chunk order: for checksums whose parts combine (zip CRC-32) and other work on large
/// read-only buffers. The one place the buffer's pointer crosses threads; `body` must only read it.
public func mapChunks<R: Sendable>(
    of bytes: UnsafeRawBufferPointer, size chunk: Int, _ body: @Sendable (UnsafeRawBufferPointer) -> R
) -> [R] {
    precondition(chunk > 0)
    let count = (bytes.count + chunk - 1) / chunk
    guard count > 1 else { return [body(bytes)] }
    let results = UnsafeMutableBufferPointer<R?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer {
        results.deinitialize()
        results.deallocate()
    }
    nonisolated(unsafe) let shared = (bytes, results)
    DispatchQueue.concurrentPerform(iterations: count) { i in
        let (bytes, results) = shared
        let part = UnsafeRawBufferPointer(rebasing: bytes[(i * chunk)..<min(bytes.count, (i + 1) * chunk)])
        results[i] = body(part)
    }
    return results.map { $0! }
}
