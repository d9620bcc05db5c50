import BinaryIO
import ModelIR

/// A pickle reader that never executes anything (Python's `Lib/pickle.py` and `pickletools`).
///
/// It is a stack machine over the opcodes of protocols 2–5 (and the protocol-0/1 opcodes real checkpoints
/// use). GLOBAL names are checked against an allowlist and become inert `PickleGlobal`s; REDUCE and NEWOBJ
/// on them become `PickleCall` records; a few pure constructors (`collections.OrderedDict()`,
/// `_codecs.encode(s, 'latin1')`, `torch.Size(t)`, `builtins.set(l)`) are evaluated to plain values.
/// Anything else — another global, an unknown opcode, a memo slot never stored — is an error naming the
/// byte offset. Stack, memo and nesting are capped.
public struct Unpickler {
    /// What a reader allows and how much it accepts.
    public struct Options: Sendable {
        /// `module.name` of every global that may appear.
        public var allowedGlobals: Set<String>
        /// The deepest nesting of containers (`ReaderLimits.maxPickleDepth`).
        public var maxDepth: Int
        /// The most stack entries, and the most open MARKs (`ReaderLimits.maxPickleStack`).
        public var maxStack: Int
        /// The most memo slots (`ReaderLimits.maxPickleMemo`).
        public var maxMemo: Int
        /// The largest single string or bytes value.
        /// The largest single string or bytes value (`ReaderLimits.maxValueBytes`).
        public var maxValueBytes: Int
        /// The most container items (list, dict and tuple entries, sets copied from other containers) the machine
        /// may build per byte of pickle, on top of `baseItemBudget`: each opcode adds a bounded number of items,
        /// so only copying opcodes can exceed it, and a pickle that tries is refused instead of growing quadratically.
        public var itemsPerByte: Int
        /// Container items allowed whatever the pickle's size.
        public var baseItemBudget: Int
        /// Byte strings (BINBYTES, BINBYTES8) of at least this size become `.byteRange` into the data instead of
        /// copies, so a reader can map them (nil: always copy).
        public var mapBytesFrom: Int?
        /// Called with each range left in the data (`mapBytesFrom`) as the parse passes it: everything before the
        /// range's end has been read and will not be read again, so a reader parsing a mapped file can release the
        /// pages behind the parse as it goes.
        public var passed: (@Sendable (Range<Int>) -> Void)?

        /// Options allowing `allowedGlobals`, with the caps of `limits`.
        public init(allowedGlobals: Set<String>, limits: ReaderLimits = .current) {
            self.allowedGlobals = allowedGlobals
            maxDepth = limits.maxPickleDepth
            maxValueBytes = limits.maxValueBytes
            maxStack = limits.maxPickleStack
            maxMemo = limits.maxPickleMemo
            itemsPerByte = limits.pickleItemsPerByte
            baseItemBudget = limits.basePickleItems
        }
    }

    /// Resolves a persistent id (`BINPERSID`) to a value, typically `.persistent(index)`.
    public typealias PersistentLoader = (PickleValue, Int) throws -> PickleValue

    let bytes: UnsafeRawBufferPointer
    let options: Options
    let file: String
    let entry: String?
    let persistentLoad: PersistentLoader?

    var position = 0
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]
    /// Container nesting recorded per stack slot, so deep structures are refused as they are built.
    var depths: [Int] = []
    var memoDepths: [Int: Int] = [:]
    /// Nesting depth of mutable containers, kept beside them (lists and dicts grow after they are created).
    var containerDepths: [ObjectIdentifier: Int] = [:]
    /// Container items still allowed (`Options.itemsPerByte`).
    var itemBudget = 0

    /// Reads one pickle from `bytes` (which may continue after its STOP: `endOffset` tells where it ended).
    public static func load(
        _ bytes: UnsafeRawBufferPointer, file: String, entry: String? = nil, options: Options,
        persistentLoad: PersistentLoader? = nil
    ) throws -> (value: PickleValue, endOffset: Int) {
        var machine = Unpickler(bytes: bytes, options: options, file: file, entry: entry, persistentLoad: persistentLoad)
        let value = try machine.run()
        return (value, machine.position)
    }

    init(bytes: UnsafeRawBufferPointer, options: Options, file: String, entry: String?, persistentLoad: PersistentLoader?) {
        self.bytes = bytes
        self.options = options
        self.file = file
        self.entry = entry
        self.persistentLoad = persistentLoad
        let (perByte, overflow) = bytes.count.multipliedReportingOverflow(by: options.itemsPerByte)
        self.itemBudget = overflow ? .max : perByte.addingReportingOverflow(options.baseItemBudget).partialValue
    }

    /// Charges `count` container items to the budget.
    mutating func spend(_ count: Int) throws {
        guard count <= itemBudget else {
            throw fail("builds more container items than a pickle of \(bytes.count) bytes can describe (copies of shared containers)").with(kind: .limitExceeded)
        }
        itemBudget -= count
    }

    /// An error at `offset` (default: the current opcode's).
    func fail(_ reason: String, at offset: Int? = nil) -> ModelError {
        let where_ = (entry.map { $0 + " " } ?? "") + "offset \(offset ?? position)"
        return ModelError(file: file, location: .entry(where_), reason)
    }
}
