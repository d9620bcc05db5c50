import BinaryIO

/// How an axis maps values to pixels.
public enum ScaleKind: String, Sendable {
    case linear
    /// Powers of ten equally spaced; used where the values span decades (errors from 1e-7 to 1e-2).
    case logarithmic
}

/// What the caller asks of an axis: a fixed kind, or `automatic` (logarithmic when the positive values span at
/// least a decade, linear otherwise).
public enum ScaleChoice: Sendable {
    case automatic, linear, logarithmic
}

/// How tick labels are written.
public enum TickStyle: Sendable {
    /// `0.25`, `1e-5` or `10⁻⁵` on a logarithmic axis.
    case number
    /// Decimal byte sizes: `10 kB`, `1.5 MB`.
    case bytes
}

/// A labelled value on an axis.
public struct Tick: Sendable, Equatable {
    public var value: Double
    public var label: String

    public init(_ value: Double, _ label: String) {
        self.value = value
        self.label = label
    }
}

/// What the caller says about one axis of a plot.
public struct AxisSpec: Sendable {
    public var title: String
    public var scale: ScaleChoice
    public var style: TickStyle
    /// Fixed ticks (layer numbers, categories): the axis spans exactly from the first to the last. Nil: ticks
    /// are chosen from the data.
    public var ticks: [Tick]?
    /// Whether a linear axis reaches down to zero (errors, sizes) or hugs the data (comparing close values).
    public var includesZero: Bool

    public init(title: String, scale: ScaleChoice = .automatic, style: TickStyle = .number, ticks: [Tick]? = nil, includesZero: Bool = true) {
        self.title = title
        self.scale = scale
        self.style = style
        self.ticks = ticks
        self.includesZero = includesZero
    }
}

/// An axis as laid out: the data domain, the pixels its ends map to, and the ticks.
public struct Axis: Sendable, Equatable {
    public var kind: ScaleKind
    public var domain: ClosedRange<Double>
    /// The pixel coordinate of `domain.lowerBound` and of `domain.upperBound` (a y axis runs upwards, so its
    /// `start` is the larger number).
    public var start: Double
    public var end: Double
    public var ticks: [Tick]

    /// The pixel coordinate of `value`, rounded to 0.01 px as the SVG writes it. Values outside the domain
    /// (a zero on a logarithmic axis) are drawn at its edge.
    public func position(_ value: Double) -> Double {
        let lo = domain.lowerBound, hi = domain.upperBound
        var t: Double
        switch kind {
        case .linear:
            t = hi > lo ? (value - lo) / (hi - lo) : 0.5
        case .logarithmic:
            t = value > 0 && hi > lo ? (log10(value) - log10(lo)) / (log10(hi) - log10(lo)) : 0
        }
        if !t.isFinite { t = 0 }
        t = min(max(t, 0), 1)
        return ((start + (end - start) * t) * 100).rounded() / 100
    }

    /// Whether `value` lies outside the domain and is drawn at the edge.
    public func clamps(_ value: Double) -> Bool {
        !value.isFinite || value < domain.lowerBound || value > domain.upperBound || (kind == .logarithmic && value <= 0)
    }

    /// An axis fitted to `values` as `spec` asks, mapping onto the pixels `start`…`end`.
    public static func fitted(_ values: [Double], spec: AxisSpec, start: Double, end: Double) -> Axis {
        let finite = values.filter(\.isFinite)
        if let fixed = spec.ticks, let first = fixed.first, let last = fixed.last {
            let lo = min(first.value, last.value), hi = max(first.value, last.value)
            return Axis(kind: .linear, domain: lo...(hi > lo ? hi : lo + 1), start: start, end: end, ticks: thinned(fixed))
        }
        let positive = finite.filter { $0 > 0 }
        let kind: ScaleKind
        switch spec.scale {
        case .linear: kind = .linear
        case .logarithmic: kind = positive.isEmpty ? .linear : .logarithmic
        case .automatic:
            if let lo = positive.min(), let hi = positive.max(), hi / lo >= 10 { kind = .logarithmic } else { kind = .linear }
        }
        if kind == .logarithmic, let lo = positive.min(), let hi = positive.max() {
            let low = floor(log10(lo)), high = max(ceil(log10(hi)), low + 1)
            let decades = Int(high - low)
            let every = max(1, (decades + 5) / 6)
            let ticks = stride(from: Int(low), through: Int(high), by: every).map { Tick(pow(10, Double($0)), logLabel($0, style: spec.style)) }
            return Axis(kind: .logarithmic, domain: pow(10, low)...pow(10, high), start: start, end: end, ticks: ticks)
        }
        var lo = finite.min() ?? 0, hi = finite.max() ?? 1
        // Values within 2% of each other are drawn from zero: a zoomed axis would magnify rounding into a pattern.
        if spec.includesZero || hi - lo < 0.02 * max(abs(lo), abs(hi)) { lo = min(lo, 0); hi = max(hi, 0) }
        if hi == lo { hi = lo + (lo == 0 ? 1 : abs(lo)) }
        let (nice, exponent) = niceStep(hi - lo)
        // k × step, computed so that decimal steps give the decimal numbers (3 × 0.1 is 0.3, not 0.30000000000000004).
        func multiple(_ k: Int) -> Double {
            exponent < 0 ? Double(k) * nice / pow(10, Double(-exponent)) : Double(k) * nice * pow(10, Double(exponent))
        }
        let step = multiple(1)
        let first = Int((lo / step).rounded(.down)), last = Int((hi / step).rounded(.up))
        let ticks = (first...last).map { Tick(multiple($0), linearLabel(multiple($0), step: step, style: spec.style)) }
        return Axis(kind: .linear, domain: multiple(first)...multiple(last), start: start, end: end, ticks: ticks)
    }

    /// 1, 2, 2.5 or 5 × 10^exponent: about five intervals over `span`.
    static func niceStep(_ span: Double) -> (nice: Double, exponent: Int) {
        let raw = span / 5
        let exponent = Int(floor(log10(raw)))
        let residual = raw / pow(10, Double(exponent))
        if residual > 5 { return (1, exponent + 1) }
        return (residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 2.5 ? 2.5 : 5, exponent)
    }

    /// At most 16 labelled ticks: every k-th of a long fixed list (the last kept).
    static func thinned(_ ticks: [Tick]) -> [Tick] {
        guard ticks.count > 16 else { return ticks }
        let every = (ticks.count + 15) / 16
        return ticks.enumerated().filter { $0.offset % every == 0 || $0.offset == ticks.count - 1 }.map(\.element)
    }

    static func logLabel(_ exponent: Int, style: TickStyle) -> String {
        switch style {
        case .bytes: return ReportFormat.decimalBytes(pow(10, Double(exponent)))
        case .number:
            if (0...3).contains(exponent) { return String(Int(pow(10, Double(exponent)))) }
            let superscripts: [Character: Character] = ["-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵",
                                                        "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹"]
            return "10" + String(String(exponent).map { superscripts[$0] ?? $0 })
        }
    }

    static func linearLabel(_ value: Double, step: Double, style: TickStyle) -> String {
        if style == .bytes { return ReportFormat.decimalBytes(value) }
        if value == 0 { return "0" }
        // Enough digits to tell neighbouring ticks apart: down to the step's last significant digit.
        let stepExponent = Int(floor(log10(step))) - (step / pow(10, floor(log10(step))) == 2.5 ? 1 : 0)
        if step < 1e-3 || abs(value) >= 1e6 {
            let digits = Int(floor(log10(abs(value)))) - stepExponent + 1
            return ReportFormat.scientific(value, digits: min(max(1, digits), 4))
        }
        return ReportFormat.fixed(value, decimals: max(0, -stepExponent))
    }
}

/// One value of a series. `label` is drawn beside the point (scatter plots); `note` is its hover text.
public struct DataPoint: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var label: String?
    public var note: String?

    public init(x: Double, y: Double, label: String? = nil, note: String? = nil) {
        self.x = x
        self.y = y
        self.label = label
        self.note = note
    }
}

/// A named set of points, drawn as a line with markers or as markers alone, in palette colour `color`.
public struct Series: Sendable {
    public enum Style: Sendable { case line, markers }
    public var name: String
    public var points: [DataPoint]
    public var style: Style
    /// The palette index (`c0`…`c7` in the stylesheet; wraps around).
    public var color: Int

    public init(name: String, points: [DataPoint], style: Style = .line, color: Int) {
        self.name = name
        self.points = points
        self.style = style
        self.color = color
    }
}

/// A horizontal line at a y value (a tolerance), optionally shading the region above it (where values fail).
public struct ReferenceLine: Sendable {
    public var value: Double
    public var label: String
    /// Whether the band above the line is tinted as failing (only when the tolerance applies to every series).
    public var shadesAbove: Bool

    public init(value: Double, label: String, shadesAbove: Bool = true) {
        self.value = value
        self.label = label
        self.shadesAbove = shadesAbove
    }
}

/// A plot described by its numbers; `layout()` places everything, `svg` draws the layout.
public struct Plot: Sendable {
    public var title: String
    public var x: AxisSpec
    public var y: AxisSpec
    public var series: [Series]
    public var lines: [ReferenceLine]
    public var width = 640.0
    public var height = 280.0

    public init(title: String, x: AxisSpec, y: AxisSpec, series: [Series], lines: [ReferenceLine] = []) {
        self.title = title
        self.x = x
        self.y = y
        self.series = series
        self.lines = lines
    }

    /// The margins around the frame: room for tick labels and axis titles.
    public static let margins = (left: 64.0, right: 20.0, top: 16.0, bottom: 48.0)

    public func layout() -> PlotLayout {
        let m = Self.margins
        let xs = series.flatMap { $0.points.map(\.x) }
        let ys = series.flatMap { $0.points.map(\.y) } + lines.map(\.value)
        // Points are kept 10 px inside the frame's left and right edges.
        let xAxis = Axis.fitted(xs, spec: x, start: m.left + 10, end: width - m.right - 10)
        let yAxis = Axis.fitted(ys, spec: y, start: height - m.bottom, end: m.top)
        let frame = (left: m.left, top: m.top, right: width - m.right, bottom: height - m.bottom)
        var labels = LabelPlacer(frame: frame)
        let placedLines = lines.map { line -> PlacedLine in
            let py = yAxis.position(line.value)
            let spot = labels.place(line.label, at: [(frame.right - 6, py - 5, .end), (frame.right - 6, py + 13, .end),
                                                     (frame.left + 6, py - 5, .start), (frame.left + 6, py + 13, .start)])
            return PlacedLine(line: line, py: py, label: spot)
        }
        let placed = series.map { s in
            PlacedSeries(series: s, points: s.points.map { point in
                let px = xAxis.position(point.x), py = yAxis.position(point.y)
                let spot = point.label.map { labels.place($0, at: [(px + 9, py - 8, .start), (px + 9, py + 16, .start),
                                                                   (px - 9, py - 8, .end), (px - 9, py + 16, .end)]) }
                return PlacedPoint(point: point, px: px, py: py, clamped: yAxis.clamps(point.y) || xAxis.clamps(point.x), label: spot)
            })
        }
        return PlotLayout(plot: self, frame: frame, x: xAxis, y: yAxis, series: placed, lines: placedLines)
    }
}

/// A point with its pixel coordinates; `clamped` when it lies outside the axis (a zero on a log axis).
public struct PlacedPoint: Sendable, Equatable {
    public var point: DataPoint
    public var px: Double
    public var py: Double
    public var clamped: Bool
    /// Where its label is drawn, when it has one.
    public var label: LabelSpot?
}

/// Where a text label goes: its anchor point and which end of the text sits there.
public struct LabelSpot: Sendable, Equatable {
    public enum Anchor: String, Sendable { case start, end }
    public var x: Double
    public var y: Double
    public var anchor: Anchor
}

/// Puts labels at the first of their candidate spots that overlaps no label placed before and stays inside the
/// frame (text width estimated at 6.5 px a character for the 11–12 px labels); the first spot when none is free.
struct LabelPlacer {
    let frame: (left: Double, top: Double, right: Double, bottom: Double)
    var taken: [(x0: Double, y0: Double, x1: Double, y1: Double)] = []

    init(frame: (left: Double, top: Double, right: Double, bottom: Double)) { self.frame = frame }

    mutating func place(_ text: String, at spots: [(Double, Double, LabelSpot.Anchor)]) -> LabelSpot {
        let width = Double(text.count) * 6.5
        func box(_ spot: (Double, Double, LabelSpot.Anchor)) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
            let x0 = spot.2 == .start ? spot.0 : spot.0 - width
            return (x0, spot.1 - 11, x0 + width, spot.1 + 3)
        }
        let free = spots.first { spot in
            let b = box(spot)
            return b.x0 >= frame.left && b.x1 <= frame.right && b.y0 >= frame.top && b.y1 <= frame.bottom
                && !taken.contains { $0.x0 < b.x1 && b.x0 < $0.x1 && $0.y0 < b.y1 && b.y0 < $0.y1 }
        } ?? spots[0]
        taken.append(box(free))
        return LabelSpot(x: (free.0 * 100).rounded() / 100, y: (free.1 * 100).rounded() / 100, anchor: free.2)
    }
}

public struct PlacedSeries: Sendable {
    public var series: Series
    public var points: [PlacedPoint]
}

public struct PlacedLine: Sendable {
    public var line: ReferenceLine
    public var py: Double
    public var label: LabelSpot
}

/// Everything of a plot in pixels: what the SVG draws and what tests check.
public struct PlotLayout: Sendable {
    public var plot: Plot
    /// The plotting frame: left, top, right, bottom.
    public var frame: (left: Double, top: Double, right: Double, bottom: Double)
    public var x: Axis
    public var y: Axis
    public var series: [PlacedSeries]
    public var lines: [PlacedLine]
}
