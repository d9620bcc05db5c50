import BinaryIO

/// Called as a writer finishes each tensor: its name and the number of data bytes it wrote.
public typealias ProgressHandler = @Sendable (_ tensor: String, _ bytes: Int) -> Void

/// How writers treat their destination and report their work.
public struct OutputOptions: Sendable {
    /// Whether an existing destination may be replaced.
    public var existing: ExistingOutputPolicy
    /// Told about each tensor written.
    public var progress: ProgressHandler?

    public init(existing: ExistingOutputPolicy = .refuse, progress: ProgressHandler? = nil) {
        self.existing = existing
        self.progress = progress
    }
}
