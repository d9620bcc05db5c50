import ModelIR
import ModelPort
import TestSupport
import Testing

/// One test per cap of `ReaderLimits`: a sample that loads under the defaults is refused, naming the rule, once
/// that cap is lowered below what the sample needs.
@Suite struct ReaderLimitsTests {
    static func refusal(_ relative: String, _ change: (inout ReaderLimits) -> Void) -> String? {
        var limits = ReaderLimits()
        change(&limits)
        do {
            let model = try ModelLoader.load(Samples.path(relative), options: LoadOptions(limits: limits))
            // Lazy checks run when the data is pulled.
            try ReaderLimits.$current.withValue(limits) {
                for tensor in model.tensors { try tensor.withBytes { _ in } }
            }
            return nil
        } catch {
            // A refusal by a cap is a limit, whatever the reader: callers tell it from a broken file by its kind.
            #expect((error as? ModelError)?.kind == .limitExceeded, "\(relative): \(error)")
            return String(describing: error)
        }
    }

    @Test func samplesLoadUnderTheDefaults() {
        for sample in ["bert-tiny", "pytorch/bert-tiny-zip", "pytorch/views.bin", "gguf/written-by-gguf-py.gguf",
                       "broken/hostile/pytorch/views-of-deflated-storage.bin", "broken/hostile/gguf/u8-array-2mb.gguf"] {
            #expect(Self.refusal(sample) { _ in } == nil, "\(sample)")
        }
    }

    @Test func headerBytes() {
        #expect(Self.refusal("bert-tiny") { $0.maxHeaderBytes = 100 }?.contains("exceeds the 100-byte limit") == true)
    }

    @Test func tensors() {
        #expect(Self.refusal("pytorch/bert-tiny-zip") { $0.maxTensors = 3 }?.contains("zip archive lists") == true)
        #expect(Self.refusal("gguf/written-by-gguf-py.gguf") { $0.maxTensors = 1 }?.contains("over the limits") == true)
    }

    @Test func pickleStackMemoAndDepth() {
        let stack = Self.refusal("pytorch/bert-tiny-zip") { $0.maxPickleStack = 2 } ?? ""
        #expect(stack.contains("stack deeper than 2 entries") || stack.contains("more than 2 open MARKs"), "\(stack)")
        #expect(Self.refusal("pytorch/bert-tiny-zip") { $0.maxPickleMemo = 2 }?.contains("memo larger than 2 entries") == true)
        #expect(Self.refusal("pytorch/bert-tiny-zip") { $0.maxPickleDepth = 1 }?.contains("nested deeper than 1 levels") == true)
    }

    @Test func pickleItems() {
        let message = Self.refusal("pytorch/bert-tiny-zip") {
            $0.basePickleItems = 10
            $0.pickleItemsPerByte = 0
        }
        #expect(message?.contains("builds more container items") == true)
    }

    @Test func viewsPerStorage() {
        // 4096 views of 256 elements cover their storage once; with no repeats allowed, the slack runs out.
        let message = Self.refusal("broken/hostile/pytorch/views-of-deflated-storage.bin") { $0.viewsPerStorage = 0 }
        #expect(message?.contains("views of one storage add up to more than 0 times") == true)
    }

    @Test func emptyTensorExtent() {
        #expect(Shape([0, 4096]).elementCount == 0)
        var limits = ReaderLimits()
        limits.maxEmptyTensorExtent = 1000
        ReaderLimits.$current.withValue(limits) {
            #expect(Shape([0, 4096]).elementCount == nil)
            #expect(Shape([0, 1000]).elementCount == 0)
            #expect(Shape([4096, 2]).elementCount == 8192)  // only empty shapes are capped
        }
    }

    @Test func metadataArrayElements() {
        let message = Self.refusal("broken/hostile/gguf/u8-array-2mb.gguf") { $0.maxMetadataArrayElements = 1000 }
        #expect(message?.contains("array of 2000000 elements") == true)
    }
}
