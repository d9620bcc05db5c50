/// The caps every reader applies to what an untrusted file may make ModelPort do, in one place.
///
/// A checkpoint is a program's worth of claims (sizes, counts, offsets, nesting) that ModelPort checks before
/// acting on them. Each cap bounds one cost — memory, time or output size — to a multiple of what the file can
/// really hold, so a small hostile file gives one clear error instead of a crash, a hang or gigabytes of
/// allocation. The defaults are far above any real BERT-family checkpoint.
///
/// Readers consult `ReaderLimits.current`; an app that needs other caps binds its own for the duration of a call:
///
/// ```swift
/// var limits = ReaderLimits()
/// limits.maxTensors = 10_000
/// let model = try ReaderLimits.$current.withValue(limits) { try ModelLoader.load(path) }
/// ```
/// (`LoadOptions.limits` does the same for `ModelLoader.load`.)
public struct ReaderLimits: Sendable, Equatable {
    /// The largest header a format may declare before its data (safetensors' JSON header, a pickle, a GGUF
    /// string): 100 MB.
    public var maxHeaderBytes = 100_000_000
    /// The most tensors (or zip entries, GGUF tensors, index entries) one file may list.
    public var maxTensors = 1 << 20
    /// The most entries on a pickle's stack, and the most open MARKs.
    public var maxPickleStack = 1 << 20
    /// The most memo slots a pickle may fill.
    public var maxPickleMemo = 1 << 22
    /// The deepest nesting of containers in a pickle.
    public var maxPickleDepth = 1000
    /// The most container items a pickle may build per byte of pickle, on top of `basePickleItems`: copies of
    /// shared containers (`builtins.set(L)` then `L.append`) are charged too, so memory stays linear in the file.
    public var pickleItemsPerByte = 16
    /// Container items any pickle may build, whatever its size.
    public var basePickleItems = 1 << 20
    /// How many times over the views of one PyTorch storage may cover it in all (tied weights: twice); stride-0
    /// views of a tiny storage would otherwise turn bytes into gigabytes.
    public var viewsPerStorage = 4
    /// The most elements a zero-size tensor may span with its zero dimension counted as one (`[2^63 − 1, 0]` holds
    /// nothing, yet strides, transposes and per-row scales computed from it would not fit in memory).
    public var maxEmptyTensorExtent = 1 << 24
    /// The most elements of one GGUF metadata array.
    public var maxMetadataArrayElements = 1 << 23
    /// The longest single string or bytes value in a header (a GGUF string, a pickled bytes object).
    public var maxValueBytes = 1 << 30
    /// The most dimensions a tensor may declare.
    public var maxRank = 32
    /// The most data files (shards) one checkpoint may name.
    public var maxShards = 100_000
    /// The most pieces the slices of one partitioned TensorFlow variable may cut it into (checking that slices tile
    /// the variable costs one cell each).
    public var maxSliceGridCells = 1 << 22
    /// The deepest nesting of MessagePack containers (Flax checkpoints) and HDF5 groups (Keras weights) a reader
    /// follows.
    public var maxNestingDepth = 64

    public init() {}

    /// The limits in force for the current task (the defaults unless a caller bound others).
    @TaskLocal public static var current = ReaderLimits()
}
