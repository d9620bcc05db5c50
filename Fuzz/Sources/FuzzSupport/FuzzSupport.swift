import CFuzzerDriver
import Foundation
import ModelIR
import ModelPort

/// What every fuzz target shares: a scratch folder the input is written into (the readers take paths, as the CLI
/// gives them), the sample files laid beside it, and a pull of every tensor's bytes so lazy errors run too.
public enum Fuzz {
    /// The largest tensor a fuzz input may describe. Inputs are at most a few hundred KB, and a reader may describe
    /// a tensor only when the file holds its bytes (or, for dequantized or reassembled data, a small multiple), so a
    /// bigger one is an amplification finding (issue 14: "every allocation bounded by what the file can really hold").
    public static let maxPulledBytes = 64 << 20

    /// The repository's Samples/ folder: `MODELPORT_SAMPLES`, else found from this source file's place.
    public static let samples: String = {
        if let path = ProcessInfo.processInfo.environment["MODELPORT_SAMPLES"] { return path }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Samples").path
    }()

    /// A fresh folder for this process under the system's temporary folder, removed at exit.
    public static func scratch(_ name: String) -> String {
        let base = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/modelport-fuzz-\(getpid())"
        let path = base + "/" + name
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if !registered {
            registered = true
            atexit { try? FileManager.default.removeItem(atPath: (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/modelport-fuzz-\(getpid())") }
        }
        return path
    }
    nonisolated(unsafe) static var registered = false

    /// Writes `bytes` to `path`, replacing what was there.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { fatalError("fuzz harness: cannot write \(path)") }
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            guard n > 0 else { fatalError("fuzz harness: write to \(path) failed") }
            done += n
        }
        close(fd)
    }

    /// Copies a file from Samples/ into the scratch folder (once, when the target starts).
    public static func copySample(_ relative: String, to path: String) {
        try? FileManager.default.removeItem(atPath: path)
        do { try FileManager.default.copyItem(atPath: samples + "/" + relative, toPath: path) } catch {
            fatalError("fuzz harness: cannot copy sample \(relative): \(error) (set MODELPORT_SAMPLES to the Samples folder)")
        }
    }

    /// Reads every tensor's bytes once, touching each byte, and checks the count against the declared shape.
    public static func pull(_ tensors: [Tensor]) {
        for tensor in tensors {
            guard let expected = tensor.info.byteCount else { continue }
            if expected > maxPulledBytes {
                fatalError("amplification: tensor '\(tensor.name)' \(tensor.info.shape) \(tensor.dtype) declares \(expected) bytes")
            }
            do {
                let count = try tensor.withBytes { bytes -> Int in
                    var sum: UInt8 = 0
                    for byte in bytes { sum &+= byte }
                    blackHole(sum)
                    return bytes.count
                }
                if count != expected {
                    fatalError("tensor '\(tensor.name)' \(tensor.info.shape) \(tensor.dtype) declares \(expected) bytes but gave \(count)")
                }
            } catch {
                blackHole(String(describing: error).count)
            }
        }
    }

    /// Runs one reader call: thrown errors are the expected outcome for most inputs; their message is built, as the
    /// CLI prints it.
    public static func attempt(_ body: () throws -> Void) {
        do { try body() } catch { blackHole(String(describing: error).count) }
    }

    /// Loads `path` the way `modelport inspect/convert` does and pulls every tensor.
    public static func load(_ path: String) {
        attempt {
            let model = try ModelLoader.load(path)
            pull(model.tensors)
        }
    }

    /// Hands the process to libFuzzer with `test` as the target (the `<module>_main` of each fuzzer calls this).
    public static func main(
        _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt {
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv, test)
    }

    @inline(never) public static func blackHole<T>(_ value: T) { _ = value }
}
