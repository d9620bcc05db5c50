import BinaryIO
import ModelIR
import Pickle
import SwiftProtobuf

/// The weight names of a Paddle program (Paddle's `framework.proto` and `save_inference_model`): what a combined params file cannot say
/// itself. Both program formats list the persistable variables; their records follow in bytewise-sorted name order.
public enum PaddleProgram {
    /// A persistable variable as the program declares it (dtype and shape when the program gives them).
    public struct Variable: Sendable, Equatable {
        public var name: String
        public var dims: [Int64]
    }

    /// Variable kinds that are persistable but hold no weights: FEED_MINIBATCH, FETCH_LIST, RAW.
    static let nonWeightKinds: Set<Int32> = [9, 10, 17]

    /// The legacy protobuf program (`__model__`, `*.pdmodel`): block 0's persistable variables, sorted.
    public static func legacyVariables(path: String) throws -> [Variable] {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        guard file.count <= 1 << 30 else { throw ModelError(file: path, "program of \(file.count) bytes is too large") }
        let program: Paddle_Framework_Proto_ProgramDesc
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            program = try file.withBytes { try Paddle_Framework_Proto_ProgramDesc(serializedBytes: Array($0), partial: true, options: options) }
        } catch {
            throw ModelError(file: path, "not a Paddle ProgramDesc: \(error)")
        }
        guard let block = program.blocks.first else { throw ModelError(file: path, "program has no blocks") }
        let variables = block.vars.filter { $0.persistable && !nonWeightKinds.contains($0.type.type) }.map {
            Variable(name: $0.name, dims: $0.type.lodTensor.tensor.dims)
        }
        return try sorted(variables, program: path)
    }

    /// Paddle 3's PIR JSON program (`*.json`, `{"base_code": {"magic": "pir", …}, "program": …}`): the
    /// `builtin.parameter` ops (written `"p"` in the compressed encoding, the name last in `"A"`), sorted.
    public static func pirVariables(path: String) throws -> [Variable] {
        let json: JSON
        do { json = try JSON.parse(contentsOf: path) } catch { throw ModelError(error, file: path) }
        guard json["base_code"]?["magic"]?.stringValue == "pir", let program = json["program"] else {
            throw ModelError(file: path, "not a Paddle PIR program (no base_code.magic \"pir\")")
        }
        var variables: [Variable] = []
        var visited = 0
        func walk(_ value: JSON, depth: Int) throws {
            visited += 1
            guard depth < 64, visited < 10_000_000 else { throw ModelError(file: path, "program nests too deeply") }
            switch value {
            case .object(let members):
                let kind = value["#"]?.stringValue
                if kind == "p" || kind == "builtin.parameter" {
                    let name: String?
                    if let attributes = value["A"]?.arrayValue {
                        name = attributes.last?.stringValue
                            ?? attributes.first { $0["N"]?.stringValue == "parameter_name" }?["AT"]?["D"]?.stringValue
                    } else {
                        name = nil
                    }
                    guard let name else { throw ModelError(file: path, "parameter op without a parameter name") }
                    let dims = value["O"]?["TT"]?["D"]?.arrayValue?.dropFirst().first?.arrayValue?.compactMap { $0.intValue.map(Int64.init) } ?? []
                    variables.append(Variable(name: name, dims: dims))
                    return
                }
                for member in members { try walk(member.value, depth: depth + 1) }
            case .array(let items):
                for item in items { try walk(item, depth: depth + 1) }
            default:
                break
            }
        }
        try walk(program, depth: 0)
        return try sorted(variables, program: path)
    }

    /// Bytewise name order (Python's `sorted` on str and C++'s `std::sort` agree on it), duplicates removed.
    ///
    /// Every name must be a plain file name: per-variable layouts open a file of that name beside the program,
    /// so a name such as `../x` or `/etc/passwd` would read outside the model folder.
    static func sorted(_ variables: [Variable], program: String) throws -> [Variable] {
        for variable in variables where !isPlainFileName(variable.name) {
            throw ModelError(file: program, location: .key(variable.name), "variable name is not a plain file name (a path would leave the model folder)")
        }
        var seen = Set<String>()
        return variables.filter { seen.insert($0.name).inserted }.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// The `.pdiparams.info` table `paddle.jit.save` writes beside an export (a pickle
    /// `{program name: {"structured_name": state-dict key, …}}`): program names → the Layer's state-dict keys.
    public static func structuredNames(path: String) throws -> [String: String] {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        let value = try file.withBytes { try Unpickler.load($0, file: path, options: .init(allowedGlobals: [])).value }
        guard case .dict(let table) = value else { throw ModelError(file: path, "holds \(value), not a dict of parameter infos") }
        var names: [String: String] = [:]
        for (key, entry) in table.items {
            guard let name = key.stringValue, case .dict(let info) = entry, let structured = info["structured_name"]?.stringValue else {
                throw ModelError(file: path, location: .key(key.stringValue ?? "?"), "entry has no structured_name")
            }
            names[name] = structured
        }
        return names
    }

    /// Reads a program and its combined params file, checking each record against the program's shape.
    public static func readCombined(program: String, params: String) throws -> [Tensor] {
        let variables = program.hasSuffix(".json") ? try pirVariables(path: program) : try legacyVariables(path: program)
        guard !variables.isEmpty else { throw ModelError(file: program, "program declares no persistable variables") }
        let tensors = try LoDTensor.readCombined(params, names: variables.map(\.name))
        for (variable, tensor) in zip(variables, tensors) where !variable.dims.isEmpty && !variable.dims.contains(-1) {
            guard variable.dims.map({ Int($0) }) == tensor.shape.dimensions else {
                throw ModelError(file: params, location: .tensor(variable.name),
                                 "record has shape \(tensor.shape), the program declares \(variable.dims)")
            }
        }
        return tensors
    }
}
