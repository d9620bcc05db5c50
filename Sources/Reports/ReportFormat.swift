import BinaryIO

/// How numbers are written in a report. Shown numbers are rounded; the exact value travels beside them in a
/// `data-value` attribute (Swift's shortest round-tripping spelling), so a reader or a test can recover it.
public enum ReportFormat {
    /// `1.23e-5`, `4.5e2` (at most `digits` significant digits, trailing zeros dropped); `0` for zero.
    public static func scientific(_ value: Double, digits: Int = 3) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value < 0 ? "−∞" : "∞") }
        if value == 0 { return "0" }
        var exponent = Int(floor(log10(abs(value))))
        let scale = pow(10, Double(digits - 1))
        var mantissa = (value / pow(10, Double(exponent)) * scale).rounded() / scale
        if abs(mantissa) >= 10 {
            mantissa /= 10
            exponent += 1
        }
        return trimmed(fixed(mantissa, decimals: digits - 1)) + "e" + String(exponent)
    }

    /// A fixed number of decimals: `0.999871`.
    public static func fixed(_ value: Double, decimals: Int) -> String {
        let scale = pow(10, Double(decimals))
        let scaled = (abs(value) * scale).rounded()
        guard value.isFinite, decimals <= 15, scaled < 9e15 else { return String(value) }
        let units = Int(scaled), one = Int(scale)
        var text = String(units / one)
        if decimals > 0 {
            let fraction = String(units % one)
            text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
        }
        return value < 0 && units != 0 ? "-" + text : text
    }

    /// An error for a table: scientific with three digits.
    public static func error(_ value: Double) -> String { scientific(value) }

    /// A cosine similarity: six decimals as `verify` prints it, more when six would round a value that is not
    /// 1 (beyond double rounding) to `1.000000` (`0.9999999`), up to ten.
    public static func cosine(_ value: Double) -> String {
        var decimals = 6
        while decimals < 10, abs(1 - value) >= cosineNoise, fixed(value, decimals: decimals) == fixed(1, decimals: decimals) { decimals += 1 }
        return fixed(value, decimals: decimals)
    }

    /// Cosine distances below this are double-precision rounding of identical vectors, shown as 0.
    public static let cosineNoise = 1e-12

    /// 1 − cosine, as plotted: 0 for identical vectors (and rounding noise below `cosineNoise`).
    public static func cosineDistance(_ cosine: Double) -> Double {
        let d = 1 - cosine
        return d < cosineNoise ? 0 : d
    }

    /// `1,234,567`.
    public static func count(_ n: Int) -> String {
        let digits = Array(String(abs(n)))
        var out = n < 0 ? "-" : ""
        for (i, d) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }

    /// Binary units, as `inspect` prints sizes: `1.5 MiB`.
    public static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : trimmed(fixed(value, decimals: 1)) + " " + units[unit]
    }

    /// Decimal units for axis ticks at powers of ten: `10 kB`, `1 MB`.
    public static func decimalBytes(_ value: Double) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = value
        var unit = 0
        while abs(v) >= 1000, unit < units.count - 1 {
            v /= 1000
            unit += 1
        }
        return trimmed(fixed(v, decimals: 1)) + " " + units[unit]
    }

    /// Bits per weight: `4.5`, `6.5625` → `6.56`, `16`.
    public static func bits(_ value: Double) -> String { trimmed(fixed(value, decimals: 2)) }

    /// The exact value for a `data-value` attribute.
    public static func exact(_ value: Double) -> String { String(value) }

    static func trimmed(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var t = Substring(text)
        while t.hasSuffix("0") { t = t.dropLast() }
        if t.hasSuffix(".") { t = t.dropLast() }
        return String(t)
    }
}
