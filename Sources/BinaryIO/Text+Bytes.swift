/// Reverses the bytes of every `width`-byte element in place (big-endian tensor data to little-endian).
package func swapByteOrder(_ bytes: UnsafeMutableRawBufferPointer, width: Int) {
    guard width > 1 else { return }
    var i = 0
    while i + width <= bytes.count {
        var lo = i, hi = i + width - 1
        while lo < hi {
            bytes.swapAt(lo, hi)
            lo += 1
            hi -= 1
        }
        i += width
    }
}

extension StringProtocol {
    /// The text without leading and trailing characters from `set` (Foundation-free).
    public func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension StringProtocol {
    /// The lines of the text, split at every line feed (U+000A) with a carriage return before it dropped.
    ///
    /// `split(separator: "\n")` does not do this for CRLF text: Swift reads "\r\n" as one `Character`, so a
    /// Windows-edited `vocab.txt` would come back as a single line.
    public func textLines() -> [String] {
        utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }
    }
}
