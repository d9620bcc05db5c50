import BinaryIO
import ModelIR

extension Unpickler {
    /// Python 2 and legacy module names, as pickle and torch rename them.
    static let moduleRenames = ["__builtin__": "builtins", "copy_reg": "copyreg", "torch.tensor": "torch._tensor"]
    /// Modules refused whatever the allowlist says.
    static let blockedModules: Set<String> = ["sys", "os", "posix", "nt", "subprocess"]

    mutating func run() throws -> PickleValue {
        while true {
            let opcodeOffset = position
            let opcode = try readByte()
            if opcode == UInt8(ascii: ".") {
                guard let top = stack.last else { throw fail("STOP with an empty stack", at: opcodeOffset) }
                return top
            }
            try execute(opcode, at: opcodeOffset)
            guard stack.count <= options.maxStack else { throw fail("stack deeper than \(options.maxStack) entries", at: opcodeOffset).with(kind: .limitExceeded) }
        }
    }

    // MARK: - Reading operands

    mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw fail("truncated pickle: no STOP opcode before the end of the data") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - position >= size else { throw fail("truncated pickle: operand runs past the end") }
        defer { position += size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// A byte string operand: a range into the data when it is large enough to map, else a copy.
    mutating func readByteString(_ count: Int) throws -> PickleValue {
        guard let threshold = options.mapBytesFrom, count >= threshold else { return .bytes(try readBytes(count)) }
        guard count >= 0, bytes.count - position >= count else { throw fail("truncated pickle: \(count)-byte value runs past the end") }
        let range = position..<(position + count)
        position += count
        options.passed?(range)
        return .byteRange(range)
    }

    mutating func readBytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= options.maxValueBytes else { throw fail("value of \(count) bytes exceeds the limit").with(kind: .limitExceeded) }
        guard bytes.count - position >= count else { throw fail("truncated pickle: \(count)-byte value runs past the end") }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    mutating func readLine() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A), end - position <= 256 else {
            throw fail("unterminated or overlong text operand")
        }
        defer { position = end + 1 }
        guard let text = String(validating: bytes[position..<end], as: UTF8.self) else { throw fail("text operand is not UTF-8") }
        return text
    }

    func length<T: BinaryInteger>(_ raw: T) throws -> Int {
        guard let n = Int(exactly: raw) else { throw fail("length \(raw) is out of range") }
        return n
    }

    mutating func text(_ count: Int) throws -> PickleValue {
        let raw = try readBytes(count)
        guard let string = String(validating: raw, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return .string(string)
    }

    // MARK: - Stack

    mutating func push(_ value: PickleValue, depth: Int = 0) throws {
        guard depth <= options.maxDepth else { throw fail("structure nested deeper than \(options.maxDepth) levels").with(kind: .limitExceeded) }
        stack.append(value)
        depths.append(depth)
    }

    mutating func pop() throws -> (value: PickleValue, depth: Int) {
        guard let value = stack.popLast(), let depth = depths.popLast() else { throw fail("stack underflow") }
        if marks.last.map({ stack.count < $0 }) == true { throw fail("stack underflow past a MARK") }
        return (value, depth)
    }

    mutating func popMark() throws -> [(value: PickleValue, depth: Int)] {
        guard let mark = marks.popLast() else { throw fail("no MARK to pop to") }
        let items = zip(stack[mark...], depths[mark...]).map { ($0, $1) }
        stack.removeSubrange(mark...)
        depths.removeSubrange(mark...)
        return items
    }

    func currentDepth(_ value: PickleValue, _ recorded: Int) -> Int {
        switch value {
        case .list(let list): return containerDepths[ObjectIdentifier(list)] ?? recorded
        case .dict(let dict): return containerDepths[ObjectIdentifier(dict)] ?? recorded
        default: return recorded
        }
    }

    mutating func deepen(_ container: AnyObject, with children: [Int]) throws {
        let id = ObjectIdentifier(container)
        let depth = max(containerDepths[id] ?? 1, (children.max() ?? 0) + 1)
        guard depth <= options.maxDepth else { throw fail("structure nested deeper than \(options.maxDepth) levels").with(kind: .limitExceeded) }
        containerDepths[id] = depth
    }

    // MARK: - Opcodes

    mutating func execute(_ opcode: UInt8, at offset: Int) throws {
        switch opcode {
        case 0x80: _ = try readByte()  // PROTO
        case 0x95: _ = try read(UInt64.self)  // FRAME: framing only
        case UInt8(ascii: "("):
            guard marks.count < options.maxStack else { throw fail("more than \(options.maxStack) open MARKs", at: offset).with(kind: .limitExceeded) }
            marks.append(stack.count)
        case UInt8(ascii: "0"): _ = try pop()
        case UInt8(ascii: "1"): _ = try popMark()
        case UInt8(ascii: "2"):
            guard let top = stack.last, let depth = depths.last else { throw fail("DUP on an empty stack") }
            try push(top, depth: depth)

        case UInt8(ascii: "N"): try push(.none)
        case 0x88: try push(.bool(true))
        case 0x89: try push(.bool(false))
        case UInt8(ascii: "J"): try push(.int(Int(try read(Int32.self))))
        case UInt8(ascii: "K"): try push(.int(Int(try readByte())))
        case UInt8(ascii: "M"): try push(.int(Int(try read(UInt16.self))))
        case 0x8A: try push(try long(Int(try readByte())))
        case 0x8B:
            let n = try read(Int32.self)
            guard n >= 0 else { throw fail("negative LONG4 length") }
            try push(try long(Int(n)))
        case UInt8(ascii: "G"):
            let raw = try read(UInt64.self)
            try push(.float(Double(bitPattern: UInt64(bigEndian: raw.littleEndian))))

        case UInt8(ascii: "X"): try push(try text(try length(try read(UInt32.self))))
        case 0x8C: try push(try text(Int(try readByte())))
        case 0x8D: try push(try text(try length(try read(UInt64.self))))
        case UInt8(ascii: "U"): try push(.bytes(try readBytes(Int(try readByte()))))
        case UInt8(ascii: "T"): try push(.bytes(try readBytes(try length(try read(Int32.self)))))
        case UInt8(ascii: "B"): try push(try readByteString(try length(try read(UInt32.self))))
        case UInt8(ascii: "C"): try push(.bytes(try readBytes(Int(try readByte()))))
        case 0x8E: try push(try readByteString(try length(try read(UInt64.self))))
        case 0x96: try push(.bytes(try readBytes(try length(try read(UInt64.self)))))

        case UInt8(ascii: ")"): try push(.tuple([]), depth: 1)
        case UInt8(ascii: "t"):
            let items = try popMark()
            try spend(items.count)
            try push(.tuple(items.map(\.value)), depth: 1 + (items.map { currentDepth($0.value, $0.depth) }.max() ?? 0))
        case 0x85, 0x86, 0x87:
            var items: [(value: PickleValue, depth: Int)] = []
            for _ in 0..<Int(opcode - 0x84) { items.insert(try pop(), at: 0) }
            try push(.tuple(items.map(\.value)), depth: 1 + (items.map { currentDepth($0.value, $0.depth) }.max() ?? 0))

        case UInt8(ascii: "]"), 0x8F:  // EMPTY_LIST, EMPTY_SET (sets are kept as lists)
            try push(.list(PickleList()), depth: 1)
        case UInt8(ascii: "l"), 0x91:  // LIST, FROZENSET
            let items = try popMark()
            try spend(items.count)
            let list = PickleList()
            list.items = items.map(\.value)
            try deepen(list, with: items.map { currentDepth($0.value, $0.depth) })
            try push(.list(list), depth: containerDepths[ObjectIdentifier(list)] ?? 1)
        case UInt8(ascii: "a"):
            let item = try pop()
            try append([item], opcode: "APPEND")
        case UInt8(ascii: "e"), 0x90:
            try append(try popMark(), opcode: opcode == 0x90 ? "ADDITEMS" : "APPENDS")

        case UInt8(ascii: "}"): try push(.dict(PickleDict()), depth: 1)
        case UInt8(ascii: "d"):
            let items = try popMark()
            let dict = PickleDict()
            try setItems(dict, items)
            try push(.dict(dict), depth: containerDepths[ObjectIdentifier(dict)] ?? 1)
        case UInt8(ascii: "s"):
            let value = try pop()
            let key = try pop()
            guard case .dict(let dict) = stack.last else { throw fail("SETITEM on \(stack.last?.description ?? "nothing"), not a dict", at: offset) }
            try setItems(dict, [key, value])
        case UInt8(ascii: "u"):
            let items = try popMark()
            guard case .dict(let dict) = stack.last else { throw fail("SETITEMS on \(stack.last?.description ?? "nothing"), not a dict", at: offset) }
            try setItems(dict, items)

        case UInt8(ascii: "c"):
            let module = try readLine()
            let name = try readLine()
            try push(.global(try resolve(module: module, name: name, at: offset)))
        case 0x93:
            let name = try pop().value
            let module = try pop().value
            guard case .string(let n) = name, case .string(let m) = module else { throw fail("STACK_GLOBAL needs two strings", at: offset) }
            try push(.global(try resolve(module: m, name: n, at: offset)))
        case UInt8(ascii: "R"):
            let arguments = try pop()
            let callee = try pop()
            try push(try call(callee.value, arguments, at: offset))
        case 0x81:
            let arguments = try pop()
            let cls = try pop()
            try push(try call(cls.value, arguments, at: offset))
        case 0x92:
            let keywords = try pop()
            let arguments = try pop()
            let cls = try pop()
            if let items = keywords.value.sequence, !items.isEmpty { throw fail("NEWOBJ_EX with keyword arguments is not supported", at: offset) }
            if case .dict(let d) = keywords.value, !d.items.isEmpty { throw fail("NEWOBJ_EX with keyword arguments is not supported", at: offset) }
            try push(try call(cls.value, arguments, at: offset))
        case UInt8(ascii: "b"):
            let state = try pop().value
            switch stack.last {
            case .dict(let dict)?: dict.attributes = state
            case .call(let call)?: call.state = state
            default: throw fail("BUILD on \(stack.last?.description ?? "nothing") is not allowed", at: offset)
            }

        case UInt8(ascii: "Q"):
            let pid = try pop()
            guard let persistentLoad else { throw fail("persistent id in a pickle that allows none", at: offset) }
            try push(try persistentLoad(pid.value, offset), depth: pid.depth)

        case UInt8(ascii: "q"): try memoize(Int(try readByte()))
        case UInt8(ascii: "r"): try memoize(try length(try read(UInt32.self)))
        case 0x94: try memoize(memo.count)
        case UInt8(ascii: "h"): try recall(Int(try readByte()), at: offset)
        case UInt8(ascii: "j"): try recall(try length(try read(UInt32.self)), at: offset)

        case UInt8(ascii: "S"):  // protocol 0 STRING: a quoted literal on one line
            let line = try readLine()
            guard line.count >= 2, let quote = line.first, quote == "'" || quote == "\"", line.last == quote else {
                throw fail("malformed STRING operand", at: offset)
            }
            try push(.bytes(Array(line.dropFirst().dropLast().utf8)))
        case UInt8(ascii: "I"):  // protocol 0 INT (also 00/01 booleans)
            let line = try readLine()
            switch line {
            case "00": try push(.bool(false))
            case "01": try push(.bool(true))
            default:
                guard let value = Int(line) else { throw fail("malformed INT operand", at: offset) }
                try push(.int(value))
            }
        case UInt8(ascii: "i"): throw fail("opcode INST (builds an arbitrary class instance) is not allowed", at: offset)
        case UInt8(ascii: "o"): throw fail("opcode OBJ (builds an arbitrary class instance) is not allowed", at: offset)
        default:
            throw fail("unsupported pickle opcode 0x\(String(opcode, radix: 16))", at: offset)
        }
    }

    mutating func long(_ count: Int) throws -> PickleValue {
        let raw = try readBytes(count)
        guard !raw.isEmpty else { return .int(0) }
        if raw.count <= 8 {
            var value: UInt64 = 0
            for (i, b) in raw.enumerated() { value |= UInt64(b) << UInt64(8 * i) }
            if raw.count < 8, raw.last! & 0x80 != 0 { value |= ~0 << UInt64(8 * raw.count) }  // sign-extend
            return .int(Int(Int64(bitPattern: value)))
        }
        return .bigInt(raw)
    }

    mutating func append(_ items: [(value: PickleValue, depth: Int)], opcode: String) throws {
        guard case .list(let list) = stack.last else {
            throw fail("\(opcode) on \(stack.last?.description ?? "nothing"), not a list")
        }
        try spend(items.count)
        try deepen(list, with: items.map { currentDepth($0.value, $0.depth) })
        list.items.append(contentsOf: items.map(\.value))
    }

    mutating func setItems(_ dict: PickleDict, _ items: [(value: PickleValue, depth: Int)]) throws {
        guard items.count % 2 == 0 else { throw fail("odd number of items for a dict") }
        try spend(items.count)
        try deepen(dict, with: items.map { currentDepth($0.value, $0.depth) })
        for i in stride(from: 0, to: items.count, by: 2) { dict.items.append((items[i].value, items[i + 1].value)) }
    }

    mutating func memoize(_ index: Int) throws {
        guard let top = stack.last, let depth = depths.last else { throw fail("memo store with an empty stack") }
        guard memo.count < options.maxMemo || memo[index] != nil else { throw fail("memo larger than \(options.maxMemo) entries").with(kind: .limitExceeded) }
        memo[index] = top
        memoDepths[index] = depth
    }

    mutating func recall(_ index: Int, at offset: Int) throws {
        guard let value = memo[index] else { throw fail("memo slot \(index) was never stored", at: offset) }
        try push(value, depth: memoDepths[index] ?? 0)
    }

    func resolve(module rawModule: String, name: String, at offset: Int) throws -> PickleGlobal {
        let module = Self.moduleRenames[rawModule] ?? rawModule
        let qualified = module + "." + name
        let root = String(module.split(separator: ".").first ?? "")
        guard !Self.blockedModules.contains(module), !Self.blockedModules.contains(root),
              options.allowedGlobals.contains(qualified) else {
            throw fail("global '\(qualified)' is not allowed", at: offset)
        }
        return PickleGlobal(module: module, name: name)
    }

    /// REDUCE / NEWOBJ: pure constructors become values; other allowlisted callables become records.
    mutating func call(_ callee: PickleValue, _ arguments: (value: PickleValue, depth: Int), at offset: Int) throws -> PickleValue {
        guard case .global(let global) = callee else { throw fail("call of \(callee), which is not an allowed global", at: offset) }
        guard let args = arguments.value.sequence else { throw fail("call arguments must be a tuple", at: offset) }
        switch global.qualifiedName {
        case "collections.OrderedDict", "builtins.dict":
            guard args.isEmpty else { throw fail("\(global.qualifiedName) with arguments is not supported", at: offset) }
            return .dict(PickleDict())
        case "torch.Size":
            let items = args.first?.sequence ?? []
            try spend(items.count)
            return .tuple(items)
        case "builtins.set", "builtins.frozenset":
            let list = PickleList()
            let items = args.first?.sequence ?? []
            try spend(items.count)  // a copy: a later APPEND to either list duplicates the items
            list.items = items
            return .list(list)
        case "_codecs.encode":
            guard args.count == 2, case .string(let text) = args[0], args[1].stringValue == "latin1" || args[1].stringValue == "latin-1" else {
                throw fail("_codecs.encode is allowed only as encode(str, 'latin1')", at: offset)
            }
            var out: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value <= 0xFF else { throw fail("_codecs.encode: character outside latin-1", at: offset) }
                out.append(UInt8(scalar.value))
            }
            return .bytes(out)
        case "builtins.bytearray":
            if case .bytes(let b) = args.first { return .bytes(b) }
            return .bytes([])
        default:
            return .call(PickleCall(callee: global, arguments: args, offset: offset))
        }
    }
}
