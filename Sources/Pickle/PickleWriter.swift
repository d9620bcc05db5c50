import BinaryIO

/// Emits pickle opcodes into a `ByteWriter`: the writing side of `Unpickler`, shared by the PyTorch and Paddle
/// writers. Method names are the opcode names of Python's `Lib/pickletools.py`; the few convenience methods
/// (`string`, `int`, `tuple`, `global`) choose opcodes the way CPython's `Lib/pickle.py` `_Pickler` does for
/// the protocol given at `init`, so a caller that builds the same objects gets the same bytes Python would.
///
/// The output streams: a caller may write raw payload bytes (a tensor after a `BINBYTES` header) into
/// `output` between opcodes.
public struct PickleWriter {
    /// Where the opcodes go.
    public var output: ByteWriter
    /// The protocol announced by `PROTO` (2 to 5): it decides which opcodes the convenience methods use.
    public let version: UInt8

    /// Starts a pickle with `PROTO version`, written to `output`.
    public init(version: UInt8, output: ByteWriter = ByteWriter()) throws {
        precondition((2...5).contains(version), "PROTO needs protocol 2 or later")
        self.version = version
        self.output = output
        try self.output.writeBytes([0x80, version])
    }

    /// The pickle so far, for one written in memory.
    public var bytes: [UInt8] { output.bytes }

    // MARK: Opcodes without arguments

    /// `(`: pushes a mark for the next `TUPLE`, `SETITEMS`, … to collect the items above it.
    public mutating func mark() throws { try op(0x28) }
    /// `.`: ends the pickle.
    public mutating func stop() throws { try op(0x2E) }
    /// `N`: pushes `None`.
    public mutating func none() throws { try op(0x4E) }
    /// `\x88`: pushes `True`.
    public mutating func newTrue() throws { try op(0x88) }
    /// `\x89`: pushes `False`.
    public mutating func newFalse() throws { try op(0x89) }
    /// `)`: pushes `()`.
    public mutating func emptyTuple() throws { try op(0x29) }
    /// `t`: the items above the mark become a tuple.
    public mutating func tuple() throws { try op(0x74) }
    /// `\x85`: the top item becomes a 1-tuple.
    public mutating func tuple1() throws { try op(0x85) }
    /// `\x86`: the top two items become a 2-tuple.
    public mutating func tuple2() throws { try op(0x86) }
    /// `\x87`: the top three items become a 3-tuple.
    public mutating func tuple3() throws { try op(0x87) }
    /// `}`: pushes an empty dict.
    public mutating func emptyDict() throws { try op(0x7D) }
    /// `u`: the key/value pairs above the mark go into the dict below it.
    public mutating func setItems() throws { try op(0x75) }
    /// `R`: calls the callable below the argument tuple on top.
    public mutating func reduce() throws { try op(0x52) }
    /// `b`: sets the state on top into the object below it.
    public mutating func build() throws { try op(0x62) }
    /// `Q`: the top item is a persistent id, resolved by the loader (torch's storages).
    public mutating func binPersId() throws { try op(0x51) }
    /// `\x93`: the module and name strings on top become a global (protocol 4).
    public mutating func stackGlobal() throws { try op(0x93) }

    // MARK: Opcodes with arguments

    /// `K`: a one-byte unsigned integer.
    public mutating func binInt1(_ value: UInt8) throws { try output.writeBytes([0x4B, value]) }

    /// `M`: a two-byte unsigned integer.
    public mutating func binInt2(_ value: UInt16) throws {
        try op(0x4D)
        try output.write(value, endianness: .little)
    }

    /// `J`: a four-byte signed integer.
    public mutating func binInt(_ value: Int32) throws {
        try op(0x4A)
        try output.write(value, endianness: .little)
    }

    /// `\x8a` with eight bytes: a signed integer as its 64-bit two's complement.
    public mutating func long1(_ value: Int64) throws {
        try output.writeBytes([0x8A, 8])
        try output.write(value, endianness: .little)
    }

    /// `c`: the global `module.name`, as text lines (protocols before 4).
    public mutating func global(module: String, name: String) throws {
        try op(0x63)
        try output.writeUTF8(module + "\n" + name + "\n")
    }

    /// `X`: a string of at most 4 GiB − 1 UTF-8 bytes, with a four-byte length.
    public mutating func binUnicode(_ text: String) throws {
        let count = try output.checked(text.utf8.count, as: UInt32.self)
        try op(0x58)
        try output.write(count, endianness: .little)
        try output.writeUTF8(text)
    }

    /// `\x8c`: a string of fewer than 256 UTF-8 bytes, with a one-byte length (protocol 4).
    public mutating func shortBinUnicode(_ text: String) throws {
        let count = try output.checked(text.utf8.count, as: UInt8.self)
        try output.writeBytes([0x8C, count])
        try output.writeUTF8(text)
    }

    /// `C`: a bytes object of fewer than 256 bytes.
    public mutating func shortBinBytes(_ bytes: [UInt8]) throws {
        let count = try output.checked(bytes.count, as: UInt8.self)
        try output.writeBytes([0x43, count])
        try output.writeBytes(bytes)
    }

    /// `B`: the header of a bytes object of `count` bytes (at most 4 GiB − 1); its bytes follow in `output`.
    public mutating func binBytesHeader(count: Int) throws {
        let length = try output.checked(count, as: UInt32.self)
        try op(0x42)
        try output.write(length, endianness: .little)
    }

    /// `\x8e`: the header of a bytes object of `count` bytes with an eight-byte length (protocol 4); its bytes
    /// follow in `output`.
    public mutating func binBytes8Header(count: Int) throws {
        let length = try output.checked(count, as: UInt64.self)
        try op(0x8E)
        try output.write(length, endianness: .little)
    }

    // MARK: Objects, as CPython's pickler writes them

    /// A string: `SHORT_BINUNICODE` under 256 bytes from protocol 4 on, else `BINUNICODE`.
    public mutating func string(_ text: String) throws {
        if version >= 4, text.utf8.count < 256 {
            try shortBinUnicode(text)
        } else {
            try binUnicode(text)
        }
    }

    /// An integer in the smallest of `BININT1`, `BININT2`, `BININT`; beyond 32 bits, `LONG1` with eight bytes.
    public mutating func int(_ value: Int) throws {
        if let byte = UInt8(exactly: value) {
            try binInt1(byte)
        } else if let short = UInt16(exactly: value) {
            try binInt2(short)
        } else if let word = Int32(exactly: value) {
            try binInt(word)
        } else {
            try long1(Int64(value))
        }
    }

    /// A tuple of integers: `EMPTY_TUPLE`, `TUPLE1`–`TUPLE3`, or `MARK` … `TUPLE`.
    public mutating func tuple(_ items: [Int]) throws {
        switch items.count {
        case 0:
            try emptyTuple()
        case 1...3:
            for item in items { try int(item) }
            try op(0x84 + UInt8(items.count))
        default:
            try mark()
            for item in items { try int(item) }
            try tuple()
        }
    }

    /// The global `module.name`: `GLOBAL` before protocol 4, two strings and `STACK_GLOBAL` from 4 on.
    public mutating func global(_ module: String, _ name: String) throws {
        if version >= 4 {
            try string(module)
            try string(name)
            try stackGlobal()
        } else {
            try global(module: module, name: name)
        }
    }

    @inline(__always)
    private mutating func op(_ code: UInt8) throws {
        try output.write(code, endianness: .little)
    }
}
