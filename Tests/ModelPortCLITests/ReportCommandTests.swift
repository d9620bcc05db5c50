import Foundation
import BinaryIO
import ModelPort
import ModelPortCLI
import TestSupport
import Testing

/// The `data-value` numbers of each body row of the table whose opening tag contains `marker`.
private func tableValues(_ html: String, _ marker: String) throws -> [[Double]] {
    guard let start = html.range(of: marker), let body = html.range(of: "<tbody>", range: start.upperBound..<html.endIndex),
          let end = html.range(of: "</table>", range: body.upperBound..<html.endIndex) else { return [] }
    let row = try Regex(#"<tr[^>]*>(.*?)</tr>"#)
    let value = try Regex(#"data-value="([^"]*)""#)
    return html[body.upperBound..<end.lowerBound].matches(of: row).map { match in
        (match.output[1].substring ?? "").matches(of: value).compactMap { $0.output[1].substring.flatMap { Double(String($0)) } }
    }
}

/// `run` with the arguments as an array.
private func run(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
    let console = Console.capturing()
    let status = Console.$current.withValue(console) { ModelPortCommand.execute(arguments) }
    return (status, console.capturedOutput, console.capturedError)
}

private func text(_ path: String) throws -> String {
    String(decoding: try MappedFile(path: path).withBytes { Array($0) }, as: UTF8.self)
}

@Suite struct ReportCommandTests {
    @Test func severalCandidatesAreCheckedAndAnyFailureFails() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        #expect(run("convert", Samples.path("bert-tiny"), folder.file("half"), "--dtype", "f16").status == 0)
        let both = run("verify", Samples.path("bert-tiny"), Samples.path("bert-tiny-sharded"), folder.file("half"))
        #expect(both.status == 0, "\(both.out)")
        #expect(both.out.contains("candidate:  \(Samples.path("bert-tiny-sharded"))") && both.out.contains("candidate:  \(folder.file("half"))"))
        #expect(both.out.hasSuffix("PASS: all 2 candidates are within tolerance\n"))
        // An exact tolerance passes the lossless copy and fails the f16 one: exit 1, and the JSON says which.
        let strict = run("verify", Samples.path("bert-tiny"), Samples.path("bert-tiny-sharded"), folder.file("half"), "--max-error", "1e-6", "--json")
        #expect(strict.status == 1)
        let json = try JSON.parse(Array(strict.out.utf8))
        #expect(json["passed"] == .bool(false))
        let candidates = try #require(json["candidates"]?.arrayValue)
        #expect(candidates.map { $0["passed"] } == [.bool(true), .bool(false)])
        #expect(candidates[1]["candidate"] == .string(folder.file("half")))
    }

    @Test func aCandidateIsRequired() {
        let result = run("verify", Samples.path("bert-tiny"))
        #expect(result.status == 64 && result.err.contains("Missing expected argument"))
    }

    @Test func theHTMLReportHoldsTheFiguresVerifyPrints() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        #expect(run("convert", Samples.path("bert-tiny"), folder.file("q8.gguf"), "--dtype", "q8_0").status == 0)
        let arguments = ["verify", Samples.path("tensorflow/bert-tiny-tf1"), folder.file("q8.gguf"), "--text", "we convert the model weights"]
        let printed = run(arguments + ["--json"])
        #expect(printed.status == 0, "\(printed.err)")
        let json = try JSON.parse(Array(printed.out.utf8))
        let written = run(arguments + ["--report", folder.file("report.html")])
        #expect(written.status == 0 && written.out.hasSuffix("wrote \(folder.file("report.html"))\n"))
        let html = try text(folder.file("report.html"))
        let layers = try tableValues(html, "<table class=\"layers\"")
        let expected = try #require(json["layers"]?.arrayValue).map { layer in
            ["max_abs_error", "mean_abs_error", "cosine_similarity"].compactMap { layer[$0]?.doubleValue }
        }
        #expect(!expected.isEmpty && Array(layers.prefix(expected.count)) == expected)
        // Q8_0 weights: the per-tensor table lists them, each at 8.5 bits per weight.
        let tensors = try tableValues(html, "<table class=\"tensors\"")
        #expect(tensors.count >= 25 && tensors.allSatisfy { $0.first == 8.5 })
        #expect(html.contains("id=\"tokens\"") && html.contains(">convert<"))
        #expect(!html.contains("<script") && !html.contains("http"))
        // The report is not replaced without --force; with it, it is.
        let again = run(arguments + ["--report", folder.file("report.html")])
        #expect(again.status == 1 && again.err.contains("already exists"))
        #expect(run(arguments + ["--report", folder.file("report.html"), "--force"]).status == 0)
    }

    @Test func aJSONReportFileIsTheJSONOutput() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let printed = run("verify", Samples.path("bert-tiny"), Samples.path("bert-tiny-sharded"), "--json", "--report", folder.file("r.json"))
        #expect(printed.status == 0)
        #expect(try text(folder.file("r.json")) + "\n" == printed.out)
    }

    @Test func convertWritesTheQualityReportAsHTML() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let result = run("convert", Samples.path("bert-tiny"), folder.file("mixed.gguf"), "--preset", "mixed-q4",
                         "--report", folder.file("quality.html"), "--json")
        #expect(result.status == 0, "\(result.err)")
        let json = try JSON.parse(Array(result.out.utf8))
        let quality = try #require(json["quality"]?["tensors"]?.arrayValue)
        let html = try text(folder.file("quality.html"))
        let rows = try tableValues(html, "<table class=\"tensors\"")
        #expect(rows.count == quality.count)
        // Worst first: the rows' cosines ascend, and they are the JSON's cosines.
        let cosines = rows.compactMap(\.last)
        #expect(cosines == cosines.sorted())
        #expect(cosines.sorted() == quality.compactMap { $0["cosine_similarity"]?.doubleValue }.sorted())
        let layers = try tableValues(html, "<table class=\"layers\"")
        let endToEnd = try #require(json["quality"]?["end_to_end"]?["layers"]?.arrayValue)
        #expect(layers.prefix(endToEnd.count).map { $0[2] } == endToEnd.compactMap { $0["cosine_similarity"]?.doubleValue })
        #expect(html.contains("Conversion quality report") && html.contains("dropped"))
    }
}
