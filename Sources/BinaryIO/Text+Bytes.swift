/// Reverses the bytes of every `width`-byte element in place (big-endian tensor data to little-endian).
public func swapByteOrder(_ bytes: UnsafeMutableRawBufferPointer, width: Int) {
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
