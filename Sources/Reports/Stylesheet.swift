/// The report's one inline stylesheet: system fonts only, colours as custom properties with a dark set under
/// `prefers-color-scheme: dark` (Media Queries Level 5), so plots and tables follow the reader's setting.
enum Stylesheet {
    static var css: String {
        let lightSeries = Palette.light.enumerated().map { "--c\($0.offset): \($0.element);" }.joined(separator: " ")
        let darkSeries = Palette.dark.enumerated().map { "--c\($0.offset): \($0.element);" }.joined(separator: " ")
        let seriesClasses = (0..<Palette.count).map {
            "svg .c\($0) { stroke: var(--c\($0)); fill: var(--c\($0)); } svg .point.clamped.c\($0) { stroke: var(--c\($0)) !important; }"
                + " .swatch.c\($0) { background: var(--c\($0)); }"
        }.joined(separator: "\n")
        return """
        :root { color-scheme: light dark;
          --bg: #ffffff; --fg: #1d2330; --muted: #5d6678; --line: #d8dde6; --panel: #f5f7fa; --code: #eef1f5;
          --pass: #1a7f37; --pass-bg: #dff3e4; --fail: #c62828; --fail-bg: #fde4e1; --zone: rgba(198, 40, 40, 0.07);
          --heat: #e8590c; --accent: #0072B2; \(lightSeries) }
        @media (prefers-color-scheme: dark) { :root {
          --bg: #14171c; --fg: #e3e7ee; --muted: #9aa3b2; --line: #323946; --panel: #1c2027; --code: #262b34;
          --pass: #4cc38a; --pass-bg: #15301f; --fail: #ff6b6b; --fail-bg: #3a1c1d; --zone: rgba(255, 107, 107, 0.09);
          --heat: #ff7a33; --accent: #5DADE2; \(darkSeries) } }
        * { box-sizing: border-box; }
        body { margin: 0; background: var(--bg); color: var(--fg);
          font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
        main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
        h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
        h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
        h3 { font-size: 15px; margin: 18px 0 8px; }
        p { margin: 6px 0; }
        dl.sub { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0 0; font-size: 14px; }
        dl.sub dt { font-weight: 600; } dl.sub dd { margin: 0; } dl.sub code { margin-right: 6px; }
        .sub, .hint, figcaption, .legend, footer { color: var(--muted); }
        .hint { font-size: 13.5px; }
        code, .mono { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
        code { background: var(--code); padding: 1px 5px; border-radius: 4px; overflow-wrap: anywhere; }
        .banner { display: flex; gap: 20px; align-items: center; margin: 22px 0 8px; padding: 16px 20px; border-radius: 10px;
          border: 1px solid; }
        .banner.pass { background: var(--pass-bg); border-color: var(--pass); }
        .banner.fail { background: var(--fail-bg); border-color: var(--fail); }
        .banner.none { background: var(--panel); border-color: var(--line); }
        .verdict { font-size: 30px; font-weight: 800; letter-spacing: 0.04em; }
        .pass .verdict, .ok { color: var(--pass); }
        .fail .verdict, .bad { color: var(--fail); }
        .banner ul { margin: 4px 0 0; padding-left: 18px; }
        .badge { display: inline-block; padding: 0 8px; border-radius: 9px; font-size: 12.5px; font-weight: 700; }
        .badge.ok { background: var(--pass-bg); } .badge.bad { background: var(--fail-bg); }
        table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
        th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        th { color: var(--muted); font-weight: 600; background: var(--panel); position: sticky; top: 0; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums;
          font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
        tr.failed td { background: var(--fail-bg); }
        .facts th[scope=row] { position: static; width: 150px; }
        .scroll { max-height: 460px; overflow: auto; border: 1px solid var(--line); border-radius: 8px; }
        .scroll table { border: 0; }
        table.tensors td:first-child code, table.candidates code, table.candidates th { white-space: nowrap; }
        .scroll + .charts, .charts + .scroll, .charts + details { margin-top: 14px; }
        .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px 22px; }
        figure.chart { margin: 0; padding: 10px 12px 8px; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; }
        figure.chart figcaption { color: var(--fg); font-weight: 600; font-size: 14px; margin-bottom: 2px; }
        svg.plot { width: 100%; height: auto; display: block; font-family: inherit; }
        svg .frame { fill: none; stroke: var(--line); }
        svg .grid { stroke: var(--line); stroke-width: 1; }
        svg .grid.minor { stroke-dasharray: 2 4; opacity: 0.6; }
        svg .tick { fill: var(--muted); font-size: 12px; }
        svg .axis-title { fill: var(--muted); font-size: 13px; }
        svg .fail-zone { fill: var(--zone); }
        svg .tolerance { stroke: var(--fail); stroke-width: 1.5; stroke-dasharray: 6 4; }
        svg .tolerance-label { fill: var(--fail); font-size: 11px; font-weight: 600; }
        svg .series { fill: none !important; stroke-width: 2; stroke-linejoin: round; }
        svg .point { stroke: var(--panel) !important; stroke-width: 1.2; }
        svg .point.clamped { fill: var(--panel) !important; stroke-width: 1.6; }
        svg .point-label { fill: var(--fg); font-size: 12px; font-weight: 600; }
        \(seriesClasses)
        .legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12.5px; margin-top: 4px; }
        .key { display: inline-flex; align-items: center; gap: 6px; }
        .swatch { display: inline-block; width: 14px; height: 4px; border-radius: 2px; }
        .swatch.tol { background: repeating-linear-gradient(90deg, var(--fail) 0 5px, transparent 5px 8px); }
        details { margin: 10px 0; }
        summary { cursor: pointer; color: var(--accent); }
        .tokens { line-height: 2.1; padding: 10px 14px; background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
          margin: 6px 0; }
        .tok { padding: 2px 3px; border-radius: 4px;
          background: color-mix(in srgb, var(--heat) calc(var(--d, 0) * 70%), transparent); }
        .tok.special { color: var(--muted); font-size: 11px; font-variant: small-caps; }
        .tok.worst { outline: 2px solid var(--heat); outline-offset: 0; font-weight: 600; }
        .tok sup { color: var(--heat); font-weight: 700; font-size: 10px; margin-left: 1px; }
        .scale { display: inline-block; width: 120px; height: 8px; border-radius: 4px; vertical-align: middle;
          background: linear-gradient(90deg, transparent, color-mix(in srgb, var(--heat) 70%, transparent)); border: 1px solid var(--line); }
        .slot { padding: 12px 16px; border: 1px dashed var(--line); border-radius: 8px; color: var(--muted); }
        footer { margin-top: 40px; font-size: 12.5px; }
        """
    }
}
