import BinaryIO

extension TensorData {
    /// Appends the bytes to `writer`: mapped bytes go file to file (no copy through this process), after their
    /// check when they have one; the rest are computed, then written.
    public func write(to writer: inout ByteWriter) throws {
        if case let .mapped(file, range, check) = storage {
            guard let check else { return try writer.writeContents(of: file, range: range) }
            try writer.flush()
            try check.run { try writer.writeContents(of: file, range: range) }
        } else if let (count, stream) = streamPlan {
            try TensorData.run(stream, count: count) { _, piece in try writer.writeBytes(piece) }
        } else {
            try withBytes { try writer.writeBytes($0) }
        }
    }
}

extension Tensor {
    /// Appends the bytes to `writer`, after checking that their count matches the declared dtype and shape
    /// (as `write(to:)` does for an `AtomicFile`).
    public func write(to writer: inout ByteWriter) throws {
        if try checkedByteCount() {
            try data.write(to: &writer)
        } else {
            try withBytes { try writer.writeBytes($0) }
        }
    }
}
