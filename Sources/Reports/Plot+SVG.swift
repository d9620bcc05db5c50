/// Drawing a laid-out plot as inline SVG. Colours come from the page's stylesheet (classes `c0`…`c7`, `grid`,
/// `tolerance`), so one drawing serves light and dark mode. Every marker carries its data values (`data-x`,
/// `data-y`) next to its pixel position, and a `<title>` the browser shows on hover.
extension PlotLayout {
    /// The drawing: an `<svg>` element to inline in the page (no `xmlns`, no external references).
    public var svg: String {
        let (left, top, right, bottom) = frame
        var out = "<svg class=\"plot\" viewBox=\"0 0 \(px(plot.width)) \(px(plot.height))\" role=\"img\""
            + HTML.attributes(["aria-label": plot.title]) + ">"
        for placed in lines where placed.line.shadesAbove && placed.py > top {
            out += "<rect class=\"fail-zone\" x=\"\(px(left))\" y=\"\(px(top))\" width=\"\(px(right - left))\" height=\"\(px(placed.py - top))\"/>"
        }
        for tick in y.ticks {
            let py = y.position(tick.value)
            out += "<line class=\"grid\" x1=\"\(px(left))\" y1=\"\(px(py))\" x2=\"\(px(right))\" y2=\"\(px(py))\"/>"
            out += "<text class=\"tick\" x=\"\(px(left - 6))\" y=\"\(px(py + 4))\" text-anchor=\"end\">\(HTML.escape(tick.label))</text>"
        }
        for tick in x.ticks {
            let px0 = x.position(tick.value)
            out += "<line class=\"grid minor\" x1=\"\(px(px0))\" y1=\"\(px(top))\" x2=\"\(px(px0))\" y2=\"\(px(bottom))\"/>"
            out += "<text class=\"tick\" x=\"\(px(px0))\" y=\"\(px(bottom + 16))\" text-anchor=\"middle\">\(HTML.escape(tick.label))</text>"
        }
        out += "<rect class=\"frame\" x=\"\(px(left))\" y=\"\(px(top))\" width=\"\(px(right - left))\" height=\"\(px(bottom - top))\"/>"
        out += "<text class=\"axis-title\" x=\"\(px((left + right) / 2))\" y=\"\(px(plot.height - 8))\" text-anchor=\"middle\">"
            + HTML.escape(plot.x.title) + "</text>"
        out += "<text class=\"axis-title\" transform=\"translate(14 \(px((top + bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">"
            + HTML.escape(plot.y.title) + (y.kind == .logarithmic ? " (log)" : "") + "</text>"
        for placed in lines {
            out += "<line class=\"tolerance\" x1=\"\(px(left))\" y1=\"\(px(placed.py))\" x2=\"\(px(right))\" y2=\"\(px(placed.py))\""
                + " data-value=\"\(ReportFormat.exact(placed.line.value))\"/>"
            out += "<text class=\"tolerance-label\"\(spot(placed.label))>" + HTML.escape(placed.line.label) + "</text>"
        }
        for placed in series {
            let color = "c\(placed.series.color % Palette.count)"
            if placed.series.style == .line, placed.points.count > 1 {
                let points = placed.points.map { "\(px($0.px)),\(px($0.py))" }.joined(separator: " ")
                out += "<polyline class=\"series \(color)\" points=\"\(points)\"/>"
            }
            for point in placed.points {
                let note = [placed.series.name, point.point.note].compactMap { $0 }.joined(separator: ": ")
                    + (point.clamped ? " (outside the axis, drawn at its edge)" : "")
                out += "<circle class=\"point \(color)\(point.clamped ? " clamped" : "")\" cx=\"\(px(point.px))\" cy=\"\(px(point.py))\""
                    + " r=\"\(placed.series.style == .markers ? 5 : 3.5)\" data-series=\"\(HTML.escape(placed.series.name))\""
                    + " data-x=\"\(ReportFormat.exact(point.point.x))\" data-y=\"\(ReportFormat.exact(point.point.y))\">"
                    + "<title>\(HTML.escape(note))</title></circle>"
                if let label = point.point.label, let at = point.label {
                    out += "<text class=\"point-label\"\(spot(at))>\(HTML.escape(label))</text>"
                }
            }
        }
        return out + "</svg>"
    }

    /// The series names with their colours, as HTML below the drawing.
    var legend: String {
        let keys = series.filter { !$0.points.isEmpty }.map {
            "<span class=\"key\"><span class=\"swatch c\($0.series.color % Palette.count)\"></span>\(HTML.escape($0.series.name))</span>"
        }
        return keys.count > 1 || lines.count > 0
            ? "<div class=\"legend\">" + keys.joined() + lines.map { "<span class=\"key\"><span class=\"swatch tol\"></span>\(HTML.escape($0.line.label))</span>" }.joined() + "</div>"
            : ""
    }

    /// The drawing and its legend in a `<figure>` with the plot's title as caption.
    var figure: String {
        "<figure class=\"chart\"><figcaption>\(HTML.escape(plot.title))</figcaption>\(svg)\(legend)</figure>"
    }

    private func spot(_ at: LabelSpot) -> String {
        " x=\"\(px(at.x))\" y=\"\(px(at.y))\" text-anchor=\"\(at.anchor.rawValue)\""
    }

    private func px(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        if let whole = Int(exactly: rounded) { return String(whole) }
        return String(rounded)
    }
}

/// The series colours: Okabe and Ito's colour-blind-safe palette (light mode) and lighter tints of it (dark).
enum Palette {
    static let light = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C6D31", "#666666"]
    static let dark = ["#5DADE2", "#FF8C42", "#3DDC97", "#E5A1CB", "#F5C04A", "#9AD3F5", "#C9A66B", "#BBBBBB"]
    static var count: Int { light.count }
}
