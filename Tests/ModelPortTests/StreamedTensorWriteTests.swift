import BinaryIO
import GGUFFormat
import ModelIR
import PaddleFormat
import SafetensorsFormat
import TestSupport
import Testing
import Transforms

/// Transposed tensors are read once from their file and written in strips of output rows as they are computed
/// (`TensorData.streamed`): the safetensors, GGUF and .pdparams writers must write the same bytes as from buffers
/// holding the transposed tensors (checked element by element here, not by the same code), for tensors of one strip
/// and of many, f32 and f16, and a zero-size one; a stream of the wrong size or one that fails leaves no file.
@Suite struct StreamedTensorWriteTests {
    /// Source tensors: [600, 700] f32 (1.6 MB, strips of 374 rows), [40, 17000] f32 (strips of 6553 rows, the last
    /// one short), [3, 5], [0, 4], [130, 9] f32 and [300, 2000] f16 (strips of 1747 rows).
    static let shapes: [([Int], DType)] = [([600, 700], .f32), ([40, 17000], .f32), ([3, 5], .f32), ([0, 4], .f32),
                                           ([130, 9], .f32), ([300, 2000], .f16)]

    /// The sources written to a safetensors file and mapped back (as a reader lends them), transposed lazily, next to
    /// the transposed bytes computed element by element into buffers.
    static func tensors(in folder: TemporaryFolder) throws -> (streamed: [Tensor], owned: [Tensor]) {
        var generator = SeededGenerator(seed: 15)
        var sources: [Tensor] = [], owned: [Tensor] = []
        for (index, (shape, dtype)) in shapes.enumerated() {
            let (rows, columns, width) = (shape[0], shape[1], dtype.blockBytes)
            let bytes = (0..<(rows * columns * width)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var moved = [UInt8](repeating: 0, count: bytes.count)
            for r in 0..<rows {
                for c in 0..<columns {
                    for b in 0..<width { moved[(c * rows + r) * width + b] = bytes[(r * columns + c) * width + b] }
                }
            }
            let name = "layer.\(index).weight"
            sources.append(Tensor(name: name, dtype: dtype, shape: Shape(shape), data: .owned(TensorBuffer(bytes))))
            owned.append(Tensor(name: name, dtype: dtype, shape: [columns, rows], data: .owned(TensorBuffer(moved))))
        }
        try SafetensorsWriter.write(sources, metadata: Metadata(), to: folder.file("source.safetensors"))
        let mapped = try SafetensorsReader.read(path: folder.file("source.safetensors")).tensors
        #expect(mapped.allSatisfy { $0.data.isMapped })
        return (try mapped.map { try $0.transposed() }, owned)
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
    func streamedTensorsWriteTheBytesOfBufferedOnes(format: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (streamed, owned) = try Self.tensors(in: folder)
        try Self.write(format, streamed, to: folder.file("streamed." + format))
        try Self.write(format, owned, to: folder.file("owned." + format))
        let a = try MappedFile(path: folder.file("streamed." + format)).withBytes { Array($0) }
        let b = try MappedFile(path: folder.file("owned." + format)).withBytes { Array($0) }
        #expect(a.count == b.count && a == b)
    }

    @Test func streamedTensorsReadAsTheirTransposes() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (streamed, owned) = try Self.tensors(in: folder)
        for (a, b) in zip(streamed, owned) {
            #expect(try a.withBytes { Array($0) } == b.withBytes { Array($0) }, "\(a.name)")
        }
    }

    /// Pieces of a streamed tensor are exactly `size` bytes but the last, in order, whatever the strips' sizes.
    @Test(arguments: [4096 + 12, 3 << 20, 64 << 20])
    func streamedTensorsAreLentInPiecesOfTheSizeAsked(size: Int) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (streamed, owned) = try Self.tensors(in: folder)
        for (a, b) in zip(streamed, owned) {
            var gathered: [UInt8] = [], sizes: [Int] = []
            try a.withPieces(of: size) { offset, piece in
                #expect(offset == gathered.count)
                gathered += piece
                sizes.append(piece.count)
            }
            #expect(gathered == (try b.withBytes { Array($0) }), "\(a.name)")
            #expect(sizes.dropLast().allSatisfy { $0 == size } && (sizes.last ?? 0) <= size, "\(a.name): \(sizes.prefix(4))")
        }
    }

    /// A stream that hands over 4 bytes too few or too many.
    static func lying(by delta: Int) -> Tensor {
        let count = 512 * 1024 * 4
        return Tensor(name: "w", dtype: .f32, shape: [512, 1024], data: .streamed(count: count) { emit in
            let piece = [UInt8](repeating: 1, count: 1 << 20)
            var left = count + delta
            while left > 0 {
                try piece.withUnsafeBytes { try emit(UnsafeRawBufferPointer(rebasing: $0[0..<min(left, piece.count)])) }
                left -= piece.count
            }
        })
    }

    @Test(arguments: formats)
    func aStreamOfTheWrongSizeIsRefusedAndLeavesNoFile(format: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for delta in [-4, 4] {
            #expect { try Self.write(format, [Self.lying(by: delta)], to: folder.file("out." + format)) } throws: {
                String(describing: $0).contains("bytes it declared")
            }
            #expect(throws: ModelError.self) { try Self.lying(by: delta).data.buffer() }
        }
        #expect(folder.contents().isEmpty)
    }

    @Test func aFailingStreamStopsTheWriteAndLeavesNoFile() throws {
        struct Broken: Error {}
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (streamed, _) = try Self.tensors(in: folder)
        let broken = Tensor(name: "z.broken", dtype: .f32, shape: [512, 1024], data: .streamed(count: 512 * 1024 * 4) { _ in throw Broken() })
        #expect {
            try SafetensorsWriter.write(streamed + [broken], metadata: Metadata(), to: folder.file("out.safetensors"))
        } throws: { String(describing: $0).contains("Broken") }
        #expect(folder.contents() == ["source.safetensors"])
    }
}
