/// The few pieces of HTML the report is built from: escaped text and elements with attributes. Content passed
/// to `element` is HTML already; everything that comes from a model or a path goes through `escape`.
enum HTML {
    /// Text safe in element content and in double-quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// ` name="value"` for each attribute that has a value, in order.
    static func attributes(_ pairs: KeyValuePairs<String, String?>) -> String {
        pairs.compactMap { key, value in value.map { " \(key)=\"\(escape($0))\"" } }.joined()
    }

    /// `<tag attributes>content</tag>`.
    static func element(_ tag: String, _ attributes: KeyValuePairs<String, String?> = [:], _ content: String = "") -> String {
        "<\(tag)\(HTML.attributes(attributes))>\(content)</\(tag)>"
    }

    /// A table cell showing `text` and carrying the exact number in `data-value`.
    static func number(_ value: Double, _ text: String, class name: String? = nil) -> String {
        element("td", ["class": name.map { "num " + $0 } ?? "num", "data-value": ReportFormat.exact(value)], escape(text))
    }
}
