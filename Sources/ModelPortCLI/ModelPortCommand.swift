import ArgumentParser
import BinaryIO
import ModelIR
import ModelPort

/// The `modelport` command: the subcommands, and the entry point that turns errors into one line and an
/// exit status.
public struct ModelPortCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "modelport",
        abstract: "Move transformer weights between frameworks, shrink them, and check nothing was lost.",
        discussion: """
            ModelPort reads checkpoints without Python or any framework installed, keeps tensors on disk until \
            they are written, and writes every output atomically (a failure never leaves half a file).

            \(FormatsCommand.summary)
            (modelport formats lists what each reads and writes.)

            Examples:
              modelport inspect Samples/bert-tiny
              modelport convert Samples/bert-tiny out/bert-f16 --dtype f16
              modelport convert Samples/bert-tiny out/rbt2 --keep-layers 2
              modelport convert model.safetensors model-bf16.safetensors --dtype bf16
              modelport tokenize Samples/tokenizers/albert --text "巴黎是[MASK]国的首都"
            """,
        version: "0.1.0",
        subcommands: [InspectCommand.self, ConvertCommand.self, VerifyCommand.self, ForwardCommand.self, TokenizeCommand.self,
                      FormatsCommand.self]
    )

    public init() {}

    /// Runs the command line `arguments` (without the program name) and returns the exit status:
    /// 0 on success, 1 for bad input or a failed operation (one `error:` line on standard error),
    /// 64 for a usage error.
    public static func execute(_ arguments: [String]) -> Int32 {
        let console = Console.current
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let error as ModelError {
            console.err("error: \(error)" + advice(for: error))
            return 1
        } catch let error as BinaryIOError {
            console.err("error: \(error)" + advice(for: ModelError(error)))
            return 1
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                console.out(message)
            } else if !message.isEmpty {
                console.err(message)
            }
            return code.rawValue
        }
    }

    /// What the command line adds to a library error: the flag that gets past it.
    static func advice(for error: ModelError) -> String {
        switch error.kind {
        case .outputExists: return " (use --force to replace it)"
        case .belowRequiredQuality: return " (--min-cosine)"
        default: return ""
        }
    }
}
