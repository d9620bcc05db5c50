import BinaryIO
import Synchronization

/// Where the commands print. Real runs use the process's standard output and error; tests capture both
/// by binding `Console.current` for the duration of a call.
public final class Console: Sendable {
    private let capture = Mutex<(out: String, err: String)>(("", ""))
    private let isCapturing: Bool
    /// Whether standard error is a terminal (progress lines are shown only then).
    public let isInteractive: Bool

    private init(capturing: Bool) {
        isCapturing = capturing
        isInteractive = capturing ? false : isatty(2) != 0
    }

    /// The process's own streams.
    public static let standard = Console(capturing: false)

    /// A console that keeps everything printed, for tests.
    public static func capturing() -> Console { Console(capturing: true) }

    @TaskLocal public static var current: Console = .standard

    /// What was printed to standard output (capturing consoles only).
    public var capturedOutput: String { capture.withLock { $0.out } }
    /// What was printed to standard error (capturing consoles only).
    public var capturedError: String { capture.withLock { $0.err } }

    public func out(_ text: String) {
        if isCapturing { capture.withLock { $0.out += text + "\n" } } else { print(text) }
    }

    public func err(_ text: String, terminator: String = "\n") {
        if isCapturing {
            capture.withLock { $0.err += text + terminator }
        } else {
            var line = text + terminator
            line.withUTF8 { bytes in
                var done = 0
                while done < bytes.count {
                    let n = write(2, bytes.baseAddress! + done, bytes.count - done)
                    if n <= 0 { break }
                    done += n
                }
            }
        }
    }
}

/// A one-line progress display on standard error: redrawn in place on a terminal, silent otherwise.
final class ProgressLine: Sendable {
    private struct State {
        var tensors = 0
        var bytes = 0
        var lastDraw = ContinuousClock.now - .seconds(1)
        var drawn = false
    }

    private let console: Console
    private let totalTensors: Int
    private let totalBytes: Int
    private let label: String
    private let state = Mutex(State())

    init(console: Console, label: String, totalTensors: Int, totalBytes: Int) {
        self.console = console
        self.label = label
        self.totalTensors = totalTensors
        self.totalBytes = totalBytes
    }

    /// Records one finished tensor.
    func advance(bytes: Int) {
        guard console.isInteractive else { return }
        state.withLock { s in
            s.tensors += 1
            s.bytes += bytes
            let now = ContinuousClock.now
            guard now - s.lastDraw >= .milliseconds(100) || s.tensors == totalTensors else { return }
            s.lastDraw = now
            s.drawn = true
            let percent = totalBytes > 0 ? min(100, s.bytes * 100 / totalBytes) : 100
            console.err("\r\(label) \(percent)%  \(s.tensors)/\(totalTensors) tensors  \(ModelPortFormatting.bytes(s.bytes))\u{1B}[K", terminator: "")
        }
    }

    /// Clears the line.
    func finish() {
        state.withLock { s in
            if s.drawn { console.err("\r\u{1B}[K", terminator: "") }
            s.drawn = false
        }
    }
}
