import ModelPort

enum ModelPortFormatting {
    static func bytes(_ n: Int) -> String { formatBytes(n) }

    static func seconds(_ duration: Duration) -> String {
        let (s, attoseconds) = duration.components
        let total = Double(s) + Double(attoseconds) / 1e18
        return total < 10 ? String((total * 100).rounded() / 100) + " s" : String((total * 10).rounded() / 10) + " s"
    }
}

/// Parses a size such as `500MB`, `2GiB`, `100kB` or `123456` (bytes), the spellings `--max-shard-size`
/// takes (decimal units as transformers reads them, binary units with `i`).
func parseByteSize(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: " ")
    let units: [(String, Int)] = [
        ("TIB", 1 << 40), ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10),
        ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1),
    ]
    let upper = trimmed.uppercased()
    for (suffix, factor) in units where upper.hasSuffix(suffix) {
        let number = upper.dropLast(suffix.count).trimmingCharacters(in: " ")
        if let whole = Int(number), whole > 0 {
            let (bytes, overflow) = whole.multipliedReportingOverflow(by: factor)
            return overflow ? nil : bytes
        }
        if let value = Double(number), value > 0, value * Double(factor) < 9e18 { return Int(value * Double(factor)) }
        return nil
    }
    if let bytes = Int(upper), bytes > 0 { return bytes }
    return nil
}
