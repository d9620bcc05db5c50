import BinaryIO
import ModelIR
@testable import PyTorchFormat
import SafetensorsFormat
import TestSupport
import Testing

func expectSameTensors(_ tensors: [Tensor], as referencePath: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let (reference, _) = try SafetensorsReader.read(path: Samples.path(referencePath))
    #expect(Set(tensors.map(\.name)) == Set(reference.map(\.name)), sourceLocation: sourceLocation)
    for expected in reference {
        let tensor = try #require(tensors.first { $0.name == expected.name }, sourceLocation: sourceLocation)
        #expect(tensor.info == expected.info, "\(expected.name)", sourceLocation: sourceLocation)
        #expect(try tensor.withBytes { Array($0) } == (try expected.withBytes { Array($0) }), "\(expected.name)", sourceLocation: sourceLocation)
    }
}

@Suite struct PyTorchCheckpointTests {
    static let samples: [(String, String)] = [
        ("pytorch/bert-tiny-zip/pytorch_model.bin", "bert-tiny/model.safetensors"),
        ("pytorch/bert-tiny-legacy/pytorch_model.bin", "bert-tiny/model.safetensors"),
        ("pytorch/roberta-tiny-zip/pytorch_model.bin", "pytorch/roberta-tiny.reference.safetensors"),
        ("pytorch/roberta-tiny-legacy/pytorch_model.bin", "pytorch/roberta-tiny.reference.safetensors"),
        ("pytorch/albert-tiny-zip/pytorch_model.bin", "tensorflow/albert-tiny-tf1.reference.safetensors"),
        ("pytorch/albert-tiny-legacy/pytorch_model.bin", "tensorflow/albert-tiny-tf1.reference.safetensors"),
        ("pytorch/views.bin", "pytorch/views.reference.safetensors"),
        ("pytorch/views-legacy.bin", "pytorch/views.reference.safetensors"),
        ("pytorch/tied.bin", "pytorch/tied.reference.safetensors"),
        ("pytorch/wrapped-state-dict.bin", "pytorch/wrapped.reference.safetensors"),
        ("pytorch/wrapped-model.bin", "pytorch/wrapped.reference.safetensors"),
        ("pytorch/deflated.bin", "bert-tiny/model.safetensors"),
    ]

    @Test(arguments: samples)
    func readsBitForBit(sample: String, reference: String) throws {
        let contents = try PyTorchCheckpoint.read(path: Samples.path(sample))
        try expectSameTensors(contents.tensors, as: reference)
    }

    @Test func storedTensorsStayMapped() throws {
        let contents = try PyTorchCheckpoint.read(path: Samples.path("pytorch/bert-tiny-zip/pytorch_model.bin"))
        #expect(contents.tensors.allSatisfy { $0.data.isMapped })
        let legacy = try PyTorchCheckpoint.read(path: Samples.path("pytorch/bert-tiny-legacy/pytorch_model.bin"))
        #expect(legacy.tensors.allSatisfy { $0.data.isMapped })
    }

    @Test func reportsTiedWeightsAndWrappers() throws {
        let tied = try PyTorchCheckpoint.read(path: Samples.path("pytorch/tied.bin"))
        #expect(tied.notes.map(\.text).contains("tied: bert.embeddings.word_embeddings.weight = cls.predictions.decoder.weight share one storage"))
        let wrapped = try PyTorchCheckpoint.read(path: Samples.path("pytorch/wrapped-model.bin"))
        #expect(wrapped.notes.map(\.text).contains("read the checkpoint's 'model' entry; skipped optimizer, epoch"))
        #expect(wrapped.notes.map(\.text).contains("removed the 'module.' prefix (DataParallel)"))
    }

    static let hostile: [(String, String)] = [
        ("os-system", "global 'posix.system' is not allowed"),
        ("builtins-eval", "global 'builtins.eval' is not allowed"),
        ("subprocess-popen", "global 'subprocess.Popen' is not allowed"),
        ("inst-opcode", "opcode INST"),
        ("obj-opcode", "global 'os.system' is not allowed"),
        ("newobj", "global 'collections.defaultdict' is not allowed"),
        ("posix-system", "global 'posix.system' is not allowed"),
        ("memo-missing", "memo slot 5 was never stored"),
        ("deep-nesting", "nested deeper than 1000 levels"),
        ("storage-missing", "storage '999' named by data.pkl has no record in the archive"),
        ("numel-overflow", "storage of 4611686018427387903 elements overflows"),
        ("view-out-of-bounds", "tensor 'w': view reaches element 5 of a storage of 4"),
        ("dotdot-entry", "unsafe entry name"),
        ("truncated-pickle", "truncated pickle"),
        ("truncated-legacy", "does not fit the"),
    ]

    @Test(arguments: hostile)
    func refusesHostileCheckpoints(name: String, message: String) {
        let path = Samples.path("broken/pytorch/\(name).bin")
        #expect {
            try PyTorchCheckpoint.read(path: path)
        } throws: { error in
            let text = String(describing: error)
            return error is ModelError && text.hasPrefix(path) && text.contains(message) && !text.contains("\n")
        }
    }
}

@Suite struct PyTorchWriterTests {
    @Test func writesWhatTheReaderReadsBack() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        for sample in ["pytorch/views.bin", "pytorch/tied.bin", "pytorch/bert-tiny-legacy/pytorch_model.bin"] {
            let source = try PyTorchCheckpoint.read(path: Samples.path(sample))
            let out = folder.file("out.bin")
            try PyTorchWriter.write(source.tensors, to: out, options: OutputOptions(existing: .replace))
            let back = try PyTorchCheckpoint.read(path: out)
            #expect(back.tensors.map(\.name) == source.tensors.map(\.name))
            for (a, b) in zip(back.tensors, source.tensors) {
                #expect(a.info == b.info)
                #expect(try a.withBytes { Array($0) } == (try b.withBytes { Array($0) }))
            }
            #expect(back.tensors.allSatisfy { $0.data.isMapped })
        }
    }

    @Test func alignsRecordsTo64Bytes() throws {
        for (offset, name) in [(0, "archive/data.pkl"), (1807, "views/byteorder"), (123, "x/data/10")] {
            var out = ByteWriter()
            try out.writeZeros(offset)
            try PyTorchWriter.writeLocalHeader(name: Array(name.utf8), to: &out)
            #expect(out.offset % 64 == 0)
            #expect(out.offset - offset >= 30 + name.utf8.count + 4)
        }
        #expect(PyTorchWriter.archiveName(for: "/a/b/pytorch_model.bin") == "pytorch_model")
        #expect(PyTorchWriter.archiveName(for: "model-00001-of-00002.bin") == "model-00001-of-00002")
    }
}
