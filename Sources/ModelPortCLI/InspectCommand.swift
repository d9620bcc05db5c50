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

    @Option(help: ArgumentHelp("In a folder holding several weight files, read this one (tf_model.h5, flax_model.msgpack, …).", valueName: "file"))
    var weights: String?

    func run() throws {
        let model = try ModelLoader.load(source, options: LoadOptions(weightsFile: weights))
        let summary = ModelSummary(source: source, model: model)
        Console.current.out(json ? summary.json.serialized(.pretty) : summary.text)
    }
}
