#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import BinaryIO
import ModelIR
import SafetensorsFormat
import TestSupport
import Testing

/// The tensors of `Samples/safetensors/<file>` rebuilt in Swift from `manifest.json` and the shared pattern.
func manifestTensors(_ file: String) throws -> [Tensor] {
    let manifest = try JSON.parse(contentsOf: Samples.path("safetensors/manifest.json"))
    let torchNames: [String: DType] = [
        "float64": .f64, "float32": .f32, "float16": .f16, "bfloat16": .bf16, "float8_e4m3fn": .f8E4M3,
        "float8_e5m2": .f8E5M2, "int64": .i64, "int32": .i32, "int16": .i16, "int8": .i8, "uint8": .u8,
        "uint16": .u16, "uint32": .u32, "uint64": .u64, "bool": .bool,
    ]
    return try #require(manifest[file]?["tensors"]?.arrayValue).map { entry in
        let parts = try #require(entry.arrayValue)
        let name = try #require(parts[0].stringValue)
        let torchName = try #require(parts[1].stringValue)
        let dtype = try #require(torchNames[torchName])
        let dims = try #require(parts[2].arrayValue).compactMap(\.intValue)
        let shape = Shape(dims)
        let count = try #require(shape.elementCount)
        let bytes = ReferencePattern.bytes(dtype: dtype, count: count)
        return Tensor(name: name, dtype: dtype, shape: shape, data: .owned(TensorBuffer(bytes)))
    }
}

func fileBytes(_ path: String) throws -> [UInt8] { try MappedFile(path: path).withBytes { Array($0) } }

/// The page faults (minor and major) the calling thread has taken so far; 0 where the system does not count
/// them per thread. Tests run concurrently, so a per-process count would include other tests' faults.
func pageFaultsOfThisThread() -> Int {
    #if os(Linux)
    var usage = rusage()
    let rusageThread: __rusage_who_t = 1  // RUSAGE_THREAD, a name glibc shows only under _GNU_SOURCE
    guard getrusage(rusageThread, &usage) == 0 else { return 0 }
    return usage.ru_minflt + usage.ru_majflt
    #else
    return 0
    #endif
}

@Suite struct SafetensorsReaderTests {
    @Test(arguments: ["reference.safetensors", "reference-names.safetensors"])
    func readsEveryDTypeWithTheReferenceValues(file: String) throws {
        let (tensors, metadata) = try SafetensorsReader.read(path: Samples.path("safetensors/" + file))
        #expect(metadata["format"] == "pt")
        let expected = try manifestTensors(file)
        #expect(Set(tensors.map(\.name)) == Set(expected.map(\.name)))
        for reference in expected {
            let tensor = try #require(tensors.first { $0.name == reference.name })
            #expect(tensor.info == reference.info)
            let actual = try tensor.withBytes { Array($0) }
            let wanted = try reference.withBytes { Array($0) }
            #expect(actual == wanted, "\(reference.name)")
        }
    }

    @Test func listingTensorsReadsNoData() throws {
        // The data of a mapped tensor is a range of the file; nothing is copied until asked.
        let (tensors, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        #expect(tensors.count == 71)
        #expect(tensors.allSatisfy { $0.data.isMapped })

        // And nothing is read: listing a file with 64 MiB of data (sparse, so no disk is used) touches the header's
        // pages only, counted as this thread's page faults; pulling the tensor touches the data's pages, which
        // shows the count sees reads.
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("large.safetensors")
        let dataBytes = 64 << 20
        let large = Tensor(name: "large", dtype: .f32, shape: [dataBytes / 4], data: .owned(TensorBuffer(count: 0)))
        let (header, _) = try SafetensorsWriter.layout(of: [large], metadata: [:])
        let file = try AtomicFile(destination: path)
        var out = ByteWriter(streamingTo: file)
        try out.write(header.count, as: UInt64.self, endianness: .little)
        try out.writeBytes(header)
        try out.commit()
        #expect(truncate(path, off_t(8 + header.count + dataBytes)) == 0)

        let before = pageFaultsOfThisThread()
        let (listed, _) = try SafetensorsReader.read(path: path)
        let listing = pageFaultsOfThisThread() - before
        let tensor = try #require(listed.first)
        let pulling = try tensor.withBytes { bytes in
            let start = pageFaultsOfThisThread()
            var sum = 0
            for i in stride(from: 0, to: bytes.count, by: 4096) { sum &+= Int(bytes[i]) }
            #expect(sum == 0)
            return pageFaultsOfThisThread() - start
        }
        #if os(Linux)
        let dataPages = dataBytes / 4096
        #expect(listing < dataPages / 256, "listing took \(listing) page faults")
        #expect(pulling > dataPages / 128, "reading the data took only \(pulling) page faults (listing \(listing))")
        #endif
    }

    static let broken: [(String, String)] = [
        ("too-small", "offset 0: file of 5 bytes is too small for the 8-byte header length"),
        ("truncated", "tensor 'bool': data_offsets [468, 478] run past the end of the 475-byte data buffer"),
        ("header-past-end", "runs past the end of the"),
        ("header-too-large", "header length 1099511627776 exceeds the 100000000-byte limit"),
        ("overlap", "tensor 'b': data_offsets [4, 12] overlaps the previous tensor (expected to start at 8)"),
        ("gap", "tensor 'b': data_offsets [8, 12] leaves a gap after the previous tensor (expected to start at 4)"),
        ("offset-out-of-range", "tensor 'b': data_offsets [8, 16] run past the end of the 8-byte data buffer"),
        ("trailing-bytes", "tensors cover 8 of the 12 data bytes; the buffer must be covered exactly"),
        ("size-mismatch", "tensor 'a': data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12"),
        ("unknown-dtype", "tensor 'a': unknown dtype \"F33\""),
        ("shape-overflow", "tensor 'a': shape [1099511627776, 1099511627776, 1099511627776] of F32 overflows"),
        ("negative-offset", "tensor 'a': \"data_offsets\" must be two unsigned integers"),
        ("non-utf8", "offset 10: invalid JSON: invalid UTF-8 in a string"),
        ("non-object", "offset 8: header must be a JSON object, found an array"),
        ("invalid-json", "invalid JSON: unexpected end of input"),
        ("duplicate-name", "invalid JSON: duplicate key \"a\""),
        ("metadata-not-string", "key '__metadata__': value of \"format\" must be a string, found a number"),
        ("nul-padded-header", "invalid JSON: unexpected text after the JSON value"),
        ("deep-nesting", "invalid JSON: nesting deeper than 64 levels"),
    ]

    @Test(arguments: broken)
    func rejectsBrokenFiles(name: String, message: String) {
        let path = Samples.path("broken/safetensors/\(name).safetensors")
        #expect {
            try SafetensorsReader.read(path: path)
        } throws: { error in
            let text = String(describing: error)
            return error is ModelError && text.hasPrefix(path + ": ") && text.contains(message) && !text.contains("\n")
        }
    }
}

@Suite struct SafetensorsWriterTests {
    @Test(arguments: ["reference.safetensors", "reference-names.safetensors"])
    func writesTheSameBytesAsThePythonPackage(file: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        // Tensors built in Swift (not read from the reference), in manifest order.
        try SafetensorsWriter.write(try manifestTensors(file), metadata: ["format": "pt"], to: folder.file(file))
        #expect(try fileBytes(folder.file(file)) == (try Samples.bytes("safetensors/" + file)))
    }

    @Test func rewritesTransformersOutputByteForByte() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let source = Samples.path("bert-tiny/model.safetensors")
        let (tensors, metadata) = try SafetensorsReader.read(path: source)
        try SafetensorsWriter.write(tensors.reversed(), metadata: metadata, to: folder.file("m.safetensors"))
        #expect(try fileBytes(folder.file("m.safetensors")) == (try fileBytes(source)))
    }

    @Test func emptyFileMatchesTheSpec() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try SafetensorsWriter.write([], metadata: Metadata(), to: folder.file("e.safetensors"))
        #expect(try fileBytes(folder.file("e.safetensors")) == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    @Test func roundTripsGeneratedTensors() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("roundTripsGeneratedTensors seed: \(seed)")
        var rng = SeededGenerator(seed: seed)
        let dtypes: [DType] = [.f64, .f32, .f16, .bf16, .i64, .i32, .i16, .i8, .u8, .u16, .u32, .u64, .bool, .f8E4M3, .f8E5M2]
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for round in 0..<20 {
            var tensors: [Tensor] = []
            for i in 0..<Int.random(in: 0...12, using: &rng) {
                let dtype = dtypes.randomElement(using: &rng)!
                let shape = Shape((0..<Int.random(in: 0...3, using: &rng)).map { _ in Int.random(in: 0...7, using: &rng) })
                let bytes = (0..<(shape.elementCount! * dtype.blockBytes)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                tensors.append(Tensor(name: "t\(i).\(UInt16.random(in: 0...999, using: &rng))", dtype: dtype, shape: shape,
                                      data: .owned(TensorBuffer(bytes))))
            }
            let path = folder.file("r\(round).safetensors")
            try SafetensorsWriter.write(tensors, metadata: ["format": "pt", "round": String(round)], to: path)
            let (read, metadata) = try SafetensorsReader.read(path: path)
            #expect(metadata["round"] == String(round))
            #expect(read.count == tensors.count, "seed \(seed)")
            for tensor in tensors {
                let back = try #require(read.first { $0.name == tensor.name }, "seed \(seed)")
                #expect(back.info == tensor.info, "seed \(seed)")
                #expect(try back.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }), "seed \(seed)")
            }
            let header = try fileBytes(path).prefix(8)
            #expect(header.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } % 8 == 0)
        }
    }

    @Test func refusesWhatSafetensorsCannotHold() {
        let q = Tensor(name: "q", dtype: .q8_0, shape: [32], data: .owned(TensorBuffer(count: 34)))
        #expect(throws: ModelError.self) { try SafetensorsWriter.layout(of: [q], metadata: Metadata()) }
        let a = Tensor(name: "a", dtype: .u8, shape: [1], data: .owned(TensorBuffer(count: 1)))
        #expect(throws: ModelError.self) { try SafetensorsWriter.layout(of: [a, a], metadata: Metadata()) }
    }

    @Test func aFailingTensorLeavesNoFile() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let bad = Tensor(name: "bad", dtype: .u8, shape: [4], data: .producer { throw ModelError("source went away") })
        let good = Tensor(name: "good", dtype: .f32, shape: [1], data: .owned(TensorBuffer(count: 4)))
        #expect(throws: ModelError.self) {
            try SafetensorsWriter.write([good, bad], metadata: Metadata(), to: folder.file("x.safetensors"))
        }
        #expect(folder.contents().isEmpty)
    }
}

@Suite struct ShardedSafetensorsTests {
    @Test func readsTransformersShardsAsTheSingleFile() throws {
        let (sharded, _) = try SafetensorsIndex.read(indexPath: Samples.path("bert-tiny-sharded/model.safetensors.index.json"))
        let (single, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        #expect(sharded.count == single.count)
        for tensor in single {
            let other = try #require(sharded.first { $0.name == tensor.name })
            #expect(other.info == tensor.info)
            #expect(try other.withBytes { Array($0) } == (try tensor.withBytes { Array($0) }))
        }
    }

    @Test func splitsLikeHuggingFaceHub() {
        func t(_ name: String, _ bytes: Int) -> Tensor {
            Tensor(name: name, dtype: .u8, shape: [bytes], data: .owned(TensorBuffer(count: bytes)))
        }
        let shards = SafetensorsIndex.shard([t("a", 40), t("b", 50), t("c", 150), t("d", 20), t("e", 90)], maxShardBytes: 100)
        #expect(shards.map { $0.map(\.name) } == [["c"], ["a", "b"], ["d"], ["e"]])
    }

    @Test func writesAndReadsBackShards() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (tensors, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        let names = try SafetensorsIndex.write(tensors, metadata: ["format": "pt"], folder: folder.path, maxShardBytes: 40_000)
        #expect(names.last == "model.safetensors.index.json")
        #expect(names.count == 6)
        #expect(names[0] == "model-00001-of-00005.safetensors")
        let (back, _) = try SafetensorsIndex.read(indexPath: folder.file("model.safetensors.index.json"))
        let backNames: [String] = back.map(\.name).sorted()
        let names2: [String] = tensors.map(\.name).sorted()
        #expect(backNames == names2)
        let index = try JSON.parse(contentsOf: folder.file("model.safetensors.index.json"))
        #expect(index["metadata"]?["total_size"]?.intValue == 160_384)
    }

    @Test func rejectsAnIndexThatLies() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let (tensors, _) = try SafetensorsReader.read(path: Samples.path("bert-tiny/model.safetensors"))
        try SafetensorsWriter.write(tensors, metadata: Metadata(), to: folder.file("model.safetensors"))
        let index = #"{"weight_map": {"missing.weight": "model.safetensors"}}"#
        let file = try AtomicFile(destination: folder.file("model.safetensors.index.json"))
        try file.write(Array(index.utf8))
        try file.commit()
        #expect {
            try SafetensorsIndex.read(indexPath: folder.file("model.safetensors.index.json"))
        } throws: { String(describing: $0).contains("tensor 'missing.weight': listed in model.safetensors but not stored there") }

        let escape = #"{"weight_map": {"a": "../etc/passwd"}}"#
        let other = try AtomicFile(destination: folder.file("escape.index.json"))
        try other.write(Array(escape.utf8))
        try other.commit()
        #expect {
            try SafetensorsIndex.read(indexPath: folder.file("escape.index.json"))
        } throws: { String(describing: $0).contains("must be a plain file name beside the index") }
    }
}
