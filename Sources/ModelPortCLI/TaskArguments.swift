import ArgumentParser
import BinaryIO
import ModelIR
import Transforms

extension HeadKind: ExpressibleByArgument {}

/// `--task`, `--labels` and `--labels-file`: what a fine-tuned checkpoint is for when its files do not say (a TF
/// `run_classifier.py` checkpoint has neither a class name nor labels).
struct TaskArguments: ParsableArguments {
    @Option(help: ArgumentHelp("The head to assume: \(HeadKind.allCases.map { $0.rawValue }.joined(separator: ", ")) (default: the config's class, else the head tensors; run_classifier.py's output_weights read as sequence-classification).", valueName: "kind"))
    var task: HeadKind?

    @Option(help: ArgumentHelp("Classifier labels in id order, comma-separated (when the source's config has none).", valueName: "a,b,c"))
    var labels: String?

    @Option(help: ArgumentHelp("Classifier labels, one a line, in id order.", valueName: "file"))
    var labelsFile: String?

    func validate() throws {
        if labels != nil, labelsFile != nil { throw ValidationError("use either --labels or --labels-file, not both") }
    }

    /// The options for the loader.
    func options() throws -> TaskOptions {
        var list: [String]?
        if let labels { list = labels.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " ") } }
        if let labelsFile {
            let bytes: [UInt8]
            do { bytes = try MappedFile(path: labelsFile).withBytes { Array($0) } } catch { throw ModelError(error, file: labelsFile) }
            list = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: " \r") }
                .filter { !$0.isEmpty }
        }
        if let list {
            guard !list.isEmpty, !list.contains(""), Set(list).count == list.count else {
                throw ValidationError("labels must be non-empty and distinct")
            }
        }
        return TaskOptions(head: task, labels: list)
    }
}
