import ArgumentParser
import ModelIR
import ModelPort

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's format, architecture, config and tensors.",
        discussion: """
            SOURCE is a weights file, a checkpoint prefix or a model folder; the format is recognised from the \
            bytes. Only headers are read, so inspecting a large checkpoint is quick and costs little memory.
            """
    )

    @Argument(help: "The model file, checkpoint prefix or folder.")
    var source: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let model = try ModelLoader.load(source)
        let summary = ModelSummary(source: source, model: model)
        Console.current.out(json ? summary.json.serialized(.pretty) : summary.text)
    }
}
