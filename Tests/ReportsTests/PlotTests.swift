import Reports
import Testing

/// The attributes of every `<tag …>` in `svg`, in order.
func elements(_ tag: String, in svg: String) throws -> [[String: String]] {
    let element = try Regex("<\(tag)\\b([^>]*)>")
    let attribute = try Regex(#"([a-z0-9-]+)="([^"]*)""#)
    return svg.matches(of: element).map { match in
        let text = String(svg[match.range])
        var values: [String: String] = [:]
        for a in text.matches(of: attribute) {
            if let key = a.output[1].substring, let value = a.output[2].substring { values[String(key)] = String(value) }
        }
        return values
    }
}

@Suite struct AxisTests {
    @Test func linearAxesGetNiceTicksFromZero() {
        let axis = Axis.fitted([0.03, 0.27], spec: AxisSpec(title: "y"), start: 200, end: 0)
        #expect(axis.kind == .linear)
        #expect(axis.domain == 0...0.3)
        #expect(axis.ticks.map(\.label) == ["0", "0.1", "0.2", "0.3"])
        #expect(axis.position(0) == 200 && axis.position(0.3) == 0 && axis.position(0.15) == 100)
    }

    @Test func valuesSpanningDecadesGetALogarithmicAxis() {
        let axis = Axis.fitted([3e-7, 2e-5, 4e-3], spec: AxisSpec(title: "y"), start: 300, end: 0)
        #expect(axis.kind == .logarithmic)
        #expect(axis.domain.lowerBound == 1e-7 && abs(axis.domain.upperBound - 1e-2) < 1e-18)
        #expect(axis.ticks.map(\.label) == ["10⁻⁷", "10⁻⁶", "10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²"])
        // Each decade takes the same room: 1e-5 sits 2 of 5 decades up.
        #expect(axis.position(1e-5) == 180)
        // Less than a decade stays linear.
        #expect(Axis.fitted([1e-3, 5e-3], spec: AxisSpec(title: "y"), start: 300, end: 0).kind == .linear)
    }

    @Test func aZeroOnALogAxisIsDrawnAtItsEdgeAndMarked() throws {
        let plot = Plot(title: "t", x: AxisSpec(title: "layer", ticks: [Tick(0, "emb"), Tick(1, "1"), Tick(2, "2")]),
                        y: AxisSpec(title: "error"),
                        series: [Series(name: "a", points: [DataPoint(x: 0, y: 0), DataPoint(x: 1, y: 1e-6), DataPoint(x: 2, y: 1e-3)], color: 0)])
        let layout = plot.layout()
        #expect(layout.y.kind == .logarithmic)
        let zero = layout.series[0].points[0]
        #expect(zero.clamped && zero.py == layout.y.start)
        #expect(!layout.series[0].points[1].clamped)
        let circles = try elements("circle", in: layout.svg)
        #expect(circles.first?["class"] == "point c0 clamped")
    }

    @Test func tickLabelsTellNeighboursApart() {
        let axis = Axis.fitted([1.06e-4, 1.12e-4], spec: AxisSpec(title: "y", includesZero: false), start: 100, end: 0)
        let labels = axis.ticks.map(\.label)
        #expect(Set(labels).count == labels.count, "\(labels)")
        #expect(axis.domain.lowerBound <= 1.06e-4 && axis.domain.upperBound >= 1.12e-4 && axis.domain.lowerBound > 0)
    }

    @Test func nearlyEqualValuesAreDrawnFromZeroNotMagnified() {
        let axis = Axis.fitted([1.063_42e-4, 1.063_43e-4], spec: AxisSpec(title: "y", includesZero: false), start: 100, end: 0)
        #expect(axis.domain.lowerBound == 0)
        #expect(axis.ticks.allSatisfy { $0.label.count <= 7 }, "\(axis.ticks.map(\.label))")
    }

    @Test func longFixedTickListsAreThinned() {
        let ticks = (0..<49).map { Tick(Double($0), String($0)) }
        let axis = Axis.fitted([], spec: AxisSpec(title: "layer", ticks: ticks), start: 0, end: 500)
        #expect(axis.ticks.count <= 17 && axis.ticks.first?.label == "0" && axis.ticks.last?.label == "48")
        #expect(axis.domain == 0...48)
    }
}

@Suite struct PlotLayoutTests {
    let plot = Plot(
        title: "Max |error| per layer", x: AxisSpec(title: "layer", ticks: (0...4).map { Tick(Double($0), $0 == 0 ? "emb" : String($0)) }),
        y: AxisSpec(title: "max |error|"),
        series: [
            Series(name: "f16", points: (0...4).map { DataPoint(x: Double($0), y: 1e-3 * Double($0 + 1)) }, color: 0),
            Series(name: "q4_0", points: (0...4).map { DataPoint(x: Double($0), y: 0.1 + 0.01 * Double($0)) }, color: 1),
        ],
        lines: [ReferenceLine(value: 0.05, label: "tolerance 0.05")])

    @Test func everyMarkerSitsWhereItsValueMapsTo() throws {
        let layout = plot.layout()
        let circles = try elements("circle", in: layout.svg)
        let points = layout.series.flatMap(\.points)
        #expect(circles.count == points.count)
        for (circle, point) in zip(circles, points) {
            let x = try #require(circle["data-x"].flatMap(Double.init)), y = try #require(circle["data-y"].flatMap(Double.init))
            #expect(x == point.point.x && y == point.point.y)
            #expect(circle["cx"].flatMap(Double.init) == layout.x.position(x))
            #expect(circle["cy"].flatMap(Double.init) == layout.y.position(y))
        }
        // The frame's edges are the axis ends: the first layer on the left, larger errors higher up.
        #expect(points[0].px < points[1].px && points[5].py < points[0].py)
    }

    @Test func theToleranceLineIsDrawnAtItsValueWithTheFailingBandAbove() throws {
        let layout = plot.layout()
        let line = try #require(try elements("line", in: layout.svg).first { $0["class"] == "tolerance" })
        let py = layout.y.position(0.05)
        #expect(line["y1"].flatMap(Double.init) == py && line["data-value"] == "0.05")
        let zone = try #require(try elements("rect", in: layout.svg).first { $0["class"] == "fail-zone" })
        #expect(zone["y"].flatMap(Double.init) == layout.frame.top)
        #expect(zone["height"].flatMap(Double.init).map { abs($0 - (py - layout.frame.top)) < 0.011 } == true)
    }

    @Test func aToleranceOutsideTheDataWidensTheAxis() {
        var tight = plot
        tight.lines = [ReferenceLine(value: 10, label: "far")]
        let layout = tight.layout()
        #expect(layout.y.domain.upperBound >= 10)
        #expect(layout.lines[0].py >= layout.frame.top)
    }

    @Test func pointLabelsDoNotOverlap() {
        let near = Plot(title: "size", x: AxisSpec(title: "bytes", style: .bytes), y: AxisSpec(title: "error"), series: [
            Series(name: "a", points: [DataPoint(x: 50_000, y: 0.01, label: "bert-q8_0.gguf")], style: .markers, color: 0),
            Series(name: "b", points: [DataPoint(x: 52_000, y: 0.0101, label: "bert-f16")], style: .markers, color: 1),
        ])
        let labels = near.layout().series.compactMap { $0.points.first?.label }
        #expect(labels.count == 2)
        #expect(labels[0] != labels[1])
        #expect(abs(labels[0].y - labels[1].y) >= 14 || labels[0].anchor != labels[1].anchor)
    }

    @Test func theDrawingHasNoScriptsAndEscapesText() {
        var hostile = plot
        hostile.title = "<script>alert(1)</script>"
        hostile.series[0].name = "a\"b<c>"
        let svg = hostile.layout().svg
        #expect(!svg.contains("<script"))
        #expect(svg.contains("&lt;script&gt;") && svg.contains("a&quot;b&lt;c&gt;"))
    }
}

@Suite struct ReportFormatTests {
    @Test func cosinesShowTheDigitsThatDiffer() {
        #expect(ReportFormat.cosine(0.997472) == "0.997472")
        #expect(ReportFormat.cosine(0.99999987) == "0.9999999")
        #expect(ReportFormat.cosine(0.9999999996) == "0.9999999996")
        #expect(ReportFormat.cosine(1) == "1.000000")
        #expect(ReportFormat.cosine(1.0000000000000002) == "1.000000")  // double rounding of identical vectors
    }

    @Test func numbersAreShortAndExact() {
        #expect(ReportFormat.scientific(0.000123456) == "1.23e-4")
        #expect(ReportFormat.scientific(9.996e-3) == "1e-2")
        #expect(ReportFormat.scientific(0) == "0")
        #expect(ReportFormat.bytes(165_000) == "161.1 KiB")
        #expect(ReportFormat.count(40_096) == "40,096")
        #expect(Double(ReportFormat.exact(0.1 + 0.2)) == 0.1 + 0.2)
    }
}
