import BinaryIO
import Foundation
import GGUFFormat
import ModelIR
import ModelPort
import Pickle
import TestSupport
import Verifier
import Testing

/// Every file of Samples/broken/hostile (written by Samples/hostile.py) through the whole pipeline: each must give
/// either a clear error naming the rule or a correct result, never a crash, a hang or a runaway allocation (a crash
/// here ends the test process, so the suite fails).
@Suite struct HostileInputTests {
    /// Loads `relative`, then converts it to safetensors and to a Q8_0 GGUF in a temporary folder, returning the
    /// first error's text (nil when everything succeeded).
    static func outcome(_ relative: String) -> String? {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        do {
            let model = try ModelLoader.load(Samples.path(relative))
            _ = try Converter.transform(model, [])
            _ = try Converter.convert(source: Samples.path(relative), destination: folder.file("out.safetensors"), options: ConversionOptions())
            let gguf = ConversionOptions(output: GGUFOutput(types: .uniform(.q8_0)), quality: .off)
            _ = try Converter.convert(source: Samples.path(relative), destination: folder.file("out.gguf"), options: gguf)
            return nil
        } catch {
            return String(describing: error)
        }
    }

    @Test(arguments: [
        ("pytorch/offset-near-2^63.bin", "offset and strides overflow"),
        ("pytorch/stride-overflow.bin", "offset and strides overflow"),
        ("pytorch/empty-view-past-file.bin", "view reaches element"),
        ("pytorch/empty-view-huge-dims.bin", "overflows"),
        ("pytorch/stride-zero-amplification.bin", "views of one storage add up to more than 4 times"),
        ("pytorch/tied-100k.bin", "views of one storage add up to more than 4 times"),
        ("pytorch/crc-zero.bin", "CRC-32 mismatch"),
        ("pytorch/memo-dag.bin", "the same dict of tensors appears twice"),
        ("pytorch/mark-flood.bin", "open MARKs"),
        ("pytorch/dup-flood.bin", "stack deeper than"),
        ("paddle/chained-split-arrays.pdparams", "is used twice"),
        ("paddle/repeated-slice.pdparams", "is used twice"),
        ("paddle/pir-dotdot-name/inference.json", "not a plain file name"),
        ("paddle/pir-absolute-name/inference.json", "not a plain file name"),
        ("safetensors/empty-2^63-1x0", "encoder.layer.0.attention.self.query.weight"),
        ("safetensors/empty-0x2^62", "encoder.layer.0.attention.self.query.weight"),
        ("safetensors/empty-0x2^40x2^40", "encoder.layer.0.attention.self.query.weight"),
        ("safetensors/index-escapes", "must be a plain file name beside the index"),
        ("safetensors/index-20k-shards", "model-000000.safetensors"),
    ])
    func refusesWithTheRule(file: String, rule: String) {
        let message = Self.outcome("broken/hostile/" + file)
        #expect(message?.contains(rule) == true, "\(file): \(message ?? "no error")")
    }

    @Test func manyViewsOfOneDeflatedStorageConvertCorrectly() throws {
        // 4096 views of one deflated 4 MiB storage: inflated once, each view its own slice.
        let model = try ModelLoader.load(Samples.path("broken/hostile/pytorch/views-of-deflated-storage.bin"))
        #expect(model.tensors.count == 4096)
        var zeros = 0
        for tensor in model.tensors { try tensor.withBytes { bytes in if bytes.allSatisfy({ $0 == 0 }) { zeros += 1 } } }
        #expect(zeros == 4096)
        #expect(Self.outcome("broken/hostile/pytorch/views-of-deflated-storage.bin") == nil)
    }

    @Test func largeMetadataArraysAreReadWhole() throws {
        // 2,000,000 u8 elements: read element by element (no message built per read, unboxed values), all kept.
        let contents = try GGUFReader.read(path: Samples.path("broken/hostile/gguf/u8-array-2mb.gguf"))
        guard case .array(let type, let items)? = contents.metadata.first(where: { $0.key == "general.big" })?.value else {
            Issue.record("no general.big array")
            return
        }
        #expect(type == 0 && items.count == 2_000_000)
        #expect(items.allSatisfy { $0 == .u8(0) })
        #expect(try ModelLoader.load(Samples.path("broken/hostile/gguf/u8-array-2mb.gguf")).tensors.isEmpty)
    }

    @Test func tokensThatAreNotOneLineNeverShiftTheVocabulary() throws {
        let gguf = try ModelLoader.load(Samples.path("broken/hostile/gguf/token-with-newline.gguf"))
        #expect(!gguf.auxiliaryFiles.contains { $0.name == "vocab.txt" })
        #expect(gguf.notes.contains { $0.text.contains("vocab.txt is not rebuilt") })
        let folder = try ModelLoader.load(Samples.path("broken/hostile/config/tokenizer-token-newline"))
        #expect(!folder.auxiliaryFiles.contains { $0.name == "vocab.txt" })
        #expect(AuxiliaryFile.fitsOneLine("ok") && !AuxiliaryFile.fitsOneLine("a\r\nb") && !AuxiliaryFile.fitsOneLine("a\rb"))
    }

    @Test(arguments: [
        ("config/pad-negative", "pad_token_id -100 is outside"),
        ("config/pad-2^63", "pad_token_id 9223372036854775807 is outside"),
        ("config/layers-10^9", "num_hidden_layers 1000000000 is outside"),
        ("config/albert-layers-10^9", "num_hidden_layers 1000000000 is outside"),
        ("config/albert-inner-groups-negative", "inner_group_num -1 is outside"),
        ("config/hidden-negative", "must be a non-negative integer"),
        ("config/heads-zero", "is not a multiple of num_attention_heads 0"),
    ])
    func configValuesAreCheckedBeforeSizingBuffers(folder: String, rule: String) {
        do {
            let model = try ModelLoader.load(Samples.path("broken/hostile/" + folder))
            let inputs = try Verification.inputs(from: nil, for: [model])
            _ = try Verification.forward(model, inputs: inputs)
            Issue.record("\(folder): forward pass ran")
        } catch {
            #expect(String(describing: error).contains(rule), "\(folder): \(error)")
        }
    }

    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try FileManager.default.copyItem(atPath: Samples.path("bert-tiny/model.safetensors"), toPath: folder.file("model.safetensors"))
        for name in ["config.json", "vocab.txt"] { #expect(mkfifo(folder.file(name), 0o644) == 0) }
        #expect {
            try ModelLoader.load(folder.path)
        } throws: { String(describing: $0).contains("config.json: not a regular file") }
        #expect(mkfifo(folder.file("alone"), 0o644) == 0)
        #expect {
            try MappedFile(path: folder.file("alone"))
        } throws: { String(describing: $0).contains("not a regular file") }
    }

    @Test func anOutputThatAppearsMeanwhileIsNeverReplaced() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let output = try AtomicFile(destination: folder.file("out.bin"))
        try output.write([1, 2, 3])
        // Another run finishes first.
        let other = try AtomicFile(destination: folder.file("out.bin"))
        try other.write([9])
        try other.commit()
        #expect {
            try output.commit()
        } throws: { String(describing: $0).contains("appeared while the output was being written") }
        #expect(try MappedFile.contents(of: folder.file("out.bin")) == [9])
        #expect(folder.contents() == ["out.bin"])
    }

    @Test func temporariesOfDeadRunsAreRemovedAndLiveOnesKept() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        // PID 2^22 + 1 is above Linux's pid_max limit, so no process has it; our own PID is alive.
        let stale = folder.file(".out.bin.modelport-4194305-7.tmp"), live = folder.file(".out.bin.modelport-\(getpid())-8.tmp")
        for path in [stale, live] {
            let file = try AtomicFile(destination: path)
            try file.commit()
        }
        let output = try AtomicFile(destination: folder.file("out.bin"))
        defer { output.abandon() }
        #expect(!fileExists(stale))
        #expect(fileExists(live))
    }

    @Test func copiesOfSharedListsAreChargedToTheItemBudget() throws {
        // L = []; then 64 times: L.append(set(L)). Each set() copies L, so the items grow quadratically.
        var pickle: [UInt8] = [0x80, 0x02, UInt8(ascii: "]"), UInt8(ascii: "q"), 0]
        pickle += Array("cbuiltins\nset\nq\u{1}0".utf8)
        for _ in 0..<64 { pickle += [UInt8(ascii: "h"), 1, UInt8(ascii: "h"), 0, 0x85, UInt8(ascii: "R"), UInt8(ascii: "a")] }
        pickle.append(UInt8(ascii: "."))
        var options = Unpickler.Options(allowedGlobals: ["builtins.set"])
        options.baseItemBudget = 1000
        options.itemsPerByte = 1
        #expect {
            try pickle.withUnsafeBytes { try Unpickler.load($0, file: "test.pkl", options: options) }
        } throws: { String(describing: $0).contains("builds more container items than a pickle of") }
        options.baseItemBudget = 1 << 20
        let loaded = try pickle.withUnsafeBytes { try Unpickler.load($0, file: "test.pkl", options: options) }
        #expect(loaded.value.sequence?.count == 64)
    }
}

/// What an outside attack on the CLI found after the reader fixes: outputs that replace what they should not,
/// non-finite results that passed, CRLF vocabularies, vocabularies longer than the embedding table, huge inputs.
@Suite struct OutputAndParityHardeningTests {
    @Test func forceNeverReplacesAFolderHoldingOtherFoldersOrTheSource() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let home = folder.file("home")
        try makeFolders(home + "/docs")
        try FileManager.default.copyItem(atPath: Samples.path("bert-tiny"), toPath: home + "/mymodel")
        var options = ConversionOptions()
        options.writing.existing = .replace
        #expect {
            try Converter.convert(source: home + "/mymodel", destination: home, options: options)
        } throws: { String(describing: $0).contains("holds the source") }
        #expect {
            try Converter.convert(source: Samples.path("bert-tiny"), destination: home, options: options)
        } throws: { String(describing: $0).contains("holds 'docs', which a model folder does not") }
        #expect(isDirectory(home + "/docs") && isDirectory(home + "/mymodel"))
        #expect(mkfifo(folder.file("fifo"), 0o644) == 0)
        #expect {
            try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("fifo"), options: options)
        } throws: { String(describing: $0).contains("is not a regular file or folder") }
        // A model folder written before is replaced.
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("out"), options: options)
        _ = try Converter.convert(source: Samples.path("bert-tiny"), destination: folder.file("out"), options: options)
    }

    @Test func nonFiniteOutputsFailTheComparison() throws {
        let model = try ModelLoader.load(Samples.path("bert-tiny"))
        var broken = model
        broken.config.layerNormEps = -1  // LayerNorm of a negative variance: NaN everywhere
        let inputs = try Verification.inputs(from: nil, for: [model])
        let report = try Verification.verify(reference: model, candidate: broken, inputs: inputs, tolerance: nil)
        #expect(!report.passed)
        #expect(report.layers.allSatisfy { !$0.passed })
        #expect(JSON.double(.nan) == .null && JSON.double(.infinity) == .null)
    }

    @Test func crlfVocabulariesReadLineByLine() throws {
        #expect("[PAD]\r\n[UNK]\r\nhello\r\n".textLines() == ["[PAD]", "[UNK]", "hello", ""])
        #expect("a\nb".textLines() == ["a", "b"])
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try FileManager.default.copyItem(atPath: Samples.path("bert-tiny"), toPath: folder.file("m"))
        let vocab = try MappedFile.contents(of: folder.file("m/vocab.txt"))
        try FileManager.default.removeItem(atPath: folder.file("m/vocab.txt"))
        try FileManager.default.removeItem(atPath: folder.file("m/tokenizer.json"))
        let crlf = String(decoding: vocab, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n")
        #expect(FileManager.default.createFile(atPath: folder.file("m/vocab.txt"), contents: Array(crlf.utf8).withUnsafeBytes { Data($0) }))
        let options = ConversionOptions(output: GGUFOutput(types: .uniform(.f32)), quality: .off)
        _ = try Converter.convert(source: folder.file("m"), destination: folder.file("m.gguf"), options: options)
        let gguf = try ModelLoader.load(folder.file("m.gguf"))
        let rebuilt = try #require(gguf.auxiliaryFiles.first { $0.name == "vocab.txt" }?.contents)
        #expect(String(decoding: rebuilt, as: UTF8.self).textLines().dropLast() == String(decoding: vocab, as: UTF8.self).textLines().dropLast())
    }

    @Test func aVocabularyLongerThanTheEmbeddingTableIsRefused() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        try FileManager.default.copyItem(atPath: Samples.path("bert-tiny"), toPath: folder.file("m"))
        try FileManager.default.removeItem(atPath: folder.file("m/tokenizer.json"))
        let handle = try #require(FileHandle(forWritingAtPath: folder.file("m/vocab.txt")))
        handle.seekToEndOfFile()
        handle.write("extra1\nextra2\n".data(using: .utf8)!)
        try handle.close()
        let options = ConversionOptions(output: GGUFOutput(types: .uniform(.f32)), quality: .off)
        #expect {
            try Converter.convert(source: folder.file("m"), destination: folder.file("m.gguf"), options: options)
        } throws: { String(describing: $0).contains("the GGUF tokenizer needs one token per row") }
    }

    @Test func verifierInputsAreBounded() {
        #expect {
            try EncoderInputs(inputIds: Array(repeating: Array(repeating: 5, count: 16), count: 2000))
        } throws: { String(describing: $0).contains("exceed the 16384 tokens") }
    }
}
