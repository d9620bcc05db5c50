import Foundation
import ModelPort

// convert-and-verify SOURCE DEST: converts SOURCE (any format ModelPort reads) to DEST (the output kind follows
// DEST's name, as `modelport convert` does), runs both through the reference forward pass, prints the gap per
// layer and per head output, and exits 0 when they agree within the default tolerance, 1 otherwise.

let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 2, let source = arguments.first, let destination = arguments.last else {
    FileHandle.standardError.write(Data("usage: convert-and-verify SOURCE DEST\n".utf8))
    exit(2)
}

do {
    // The output kind comes from DEST's name; ConversionOptions(output: GGUFOutput(types: .uniform(.q8_0))) would
    // choose one explicitly.
    let report = try Converter.convert(source: source, destination: destination, options: ConversionOptions(quality: .off))
    print("converted \(report.sourceLayout) (\(report.architecture.rawValue)) → \(report.format.name): "
        + "\(report.tensorCount) tensors, \(report.bytesWritten) bytes in \(report.files.joined(separator: ", "))")
    for dropped in report.dropped { print("  left out \(dropped.name) (\(dropped.kind.rawValue): \(dropped.reason))") }

    let parity = try Verification.verify(reference: source, candidate: destination)
    print("state                max |error|   cosine")
    for state in parity.layers + parity.heads {
        let name = state.name.padding(toLength: 20, withPad: " ", startingAt: 0)
        print("\(name) \(String(format: "%.3e", state.maxAbsError))   \(String(format: "%.9f", state.cosineSimilarity))")
    }
    print(parity.passed ? "agree within \(parity.tolerance.description)" : "DIFFER beyond \(parity.tolerance.description)")
    exit(parity.passed ? 0 : 1)
} catch let error as ModelError {
    // A kind to act on, the file and place, and the rule in words.
    FileHandle.standardError.write(Data("error (\(error.kind.rawValue)): \(error)\n".utf8))
    exit(1)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
