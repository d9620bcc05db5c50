import ArgumentParser
import ModelPort

/// `modelport formats`: what ModelPort reads and writes, from the format registry (the README's table and the
/// documentation's are this command's `--markdown` output).
struct FormatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "formats",
        abstract: "List the formats ModelPort reads and writes.",
        discussion: """
            One line per format: its --to name (for formats ModelPort writes), what it reads and what it writes. \
            --markdown prints the table README.md and the documentation show; --json one object per format.
            """
    )

    @Flag(help: "Print a Markdown table.")
    var markdown = false

    @Flag(help: "Print one JSON array.")
    var json = false

    func validate() throws {
        if markdown, json { throw ValidationError("use either --markdown or --json, not both") }
    }

    func run() throws {
        let console = Console.current
        if markdown { return console.out(String(FormatRegistry.markdownTable.dropLast())) }
        if json {
            let rows = FormatRegistry.formats.map { format -> JSON in
                .object([("id", .string(format.id)), ("name", .string(format.name)),
                         ("reads", format.reads.map(JSON.string) ?? .null), ("writes", format.writes.map(JSON.string) ?? .null),
                         ("destination_suffixes", .array(format.destinationSuffixes.map(JSON.string)))])
            }
            return console.out(JSON.array(rows).serialized(.pretty))
        }
        console.out(Self.summary)
    }

    /// The formats in a few lines, for `modelport --help` too.
    static var summary: String {
        let read = FormatRegistry.formats.filter { $0.reads != nil }.map { $0.name }
        let written = FormatRegistry.formats.filter { $0.writes != nil }.map { "\($0.name) (--to \($0.id))" }
        return "Reads:  " + read.joined(separator: ", ") + "\nWrites: " + written.joined(separator: ", ")
    }
}
