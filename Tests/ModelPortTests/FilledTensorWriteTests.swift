import BinaryIO
import GGUFFormat
import ModelIR
import PaddleFormat
import SafetensorsFormat
import TestSupport
import Testing
import Transforms

/// Transposed tensors are computed straight into the output (`TensorData.filled`, through the file's own pages for
/// 1 MB and more): the safetensors, GGUF and .pdparams writers must write the same bytes as from a buffer holding the
/// transposed tensor, for large and small tensors and a zero-size one, and refuse a fill of the wrong size.
@Suite struct FilledTensorWriteTests {
    /// Random f32 tensors ([600, 700] is 1.6 MB, above the mapped-fill threshold), transposed lazily, next to the same
    /// transposed bytes held in buffers.
    static func tensors() throws -> (filled: [Tensor], owned: [Tensor]) {
        var generator = SeededGenerator(seed: 15)
        var filled: [Tensor] = [], owned: [Tensor] = []
        for (index, shape) in [[600, 700], [3, 5], [0, 4], [130, 9]].enumerated() {
            let count = shape[0] * shape[1]
            let values = (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
            let bytes = values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
            let source = Tensor(name: "layer.\(index).weight", dtype: .f32, shape: Shape(shape), data: .owned(TensorBuffer(bytes)))
            let transposed = try source.transposed()
            filled.append(transposed)
            owned.append(Tensor(info: transposed.info, data: .owned(try transposed.data.buffer())))
        }
        return (filled, owned)
    }

    static let formats = ["safetensors", "gguf", "pdparams"]

    static func write(_ format: String, _ tensors: [Tensor], to path: String) throws {
        switch format {
        case "safetensors": try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: path)
        case "gguf": try GGUFWriter.write(tensors, metadata: [("general.architecture", .string("bert"))], to: path)
        default: try PaddleParamsWriter.write(tensors, to: path, options: .init())
        }
    }

    @Test(arguments: formats)
    func filledTensorsWriteTheBytesOfBufferedOnes(format: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (filled, owned) = try Self.tensors()
        try Self.write(format, filled, to: folder.file("filled." + format))
        try Self.write(format, owned, to: folder.file("owned." + format))
        let a = try MappedFile(path: folder.file("filled." + format)).withBytes { Array($0) }
        let b = try MappedFile(path: folder.file("owned." + format)).withBytes { Array($0) }
        #expect(a.count == b.count && a == b)
    }

    @Test(arguments: formats)
    func aFillOfTheWrongSizeIsRefusedAndLeavesNoFile(format: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let wrong = Tensor(name: "w", dtype: .f32, shape: [512, 1024], data: .filled(count: 512 * 1024 * 4 - 4) { _, bytes in
            bytes.initializeMemory(as: UInt8.self, repeating: 1)
        })
        #expect(throws: ModelError.self) { try Self.write(format, [wrong], to: folder.file("out." + format)) }
        #expect(folder.contents().isEmpty)
    }

    @Test func aFailingFillStopsTheWriteAndLeavesNoFile() throws {
        struct Broken: Error {}
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (filled, _) = try Self.tensors()
        let broken = Tensor(name: "z.broken", dtype: .f32, shape: [512, 1024], data: .filled(count: 512 * 1024 * 4) { _, _ in throw Broken() })
        #expect(throws: (any Error).self) {
            try SafetensorsWriter.write(filled + [broken], metadata: Metadata(), to: folder.file("out.safetensors"))
        }
        #expect(folder.contents().isEmpty)
    }
}
