extension JSON {
    /// How `serialized` lays out text.
    public enum Style: Sendable {
        /// No spaces, non-ASCII kept as UTF-8, as Rust's serde_json writes (the safetensors header).
        case compact
        /// Two-space indentation with `": "` and ASCII-only escapes, as Python's `json.dumps(indent=2)` writes
        /// (Hugging Face `config.json`).
        case pretty
    }

    /// The document as UTF-8 text.
    public func serialized(_ style: Style = .compact) -> String {
        var out = ""
        write(to: &out, style: style, indent: 0)
        return out
    }

    private func write(to out: inout String, style: Style, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text): out += text
        case .string(let s): JSON.writeString(s, to: &out, asciiOnly: style == .pretty)
        case .array(let elements):
            guard !elements.isEmpty else { out += "[]"; return }
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += "," }
                if style == .pretty { out += "\n" + String(repeating: " ", count: indent + 2) }
                element.write(to: &out, style: style, indent: indent + 2)
            }
            if style == .pretty { out += "\n" + String(repeating: " ", count: indent) }
            out += "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += "," }
                if style == .pretty { out += "\n" + String(repeating: " ", count: indent + 2) }
                JSON.writeString(member.key, to: &out, asciiOnly: style == .pretty)
                out += style == .pretty ? ": " : ":"
                member.value.write(to: &out, style: style, indent: indent + 2)
            }
            if style == .pretty { out += "\n" + String(repeating: " ", count: indent) }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String, asciiOnly: Bool) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (asciiOnly && scalar.value >= 0x7F) {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
    }
}
