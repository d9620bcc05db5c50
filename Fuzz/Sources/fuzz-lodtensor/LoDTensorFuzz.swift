import FuzzSupport
import PaddleFormat

/// LoDTensor records: the input as one per-variable file, as a combined params file of 1, 4 or 16 variables, and
/// as the only file of a per-variable folder loaded as the CLI loads it.
let folder = Fuzz.scratch("lodtensor")

@_cdecl("fuzz_lodtensor_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let path = folder + "/word_embedding"
    Fuzz.write(UnsafeRawBufferPointer(start: start, count: count), to: path)
    Fuzz.attempt { Fuzz.pull([try LoDTensor.variableFile(path, name: "word_embedding")]) }
    for n in [1, 4, 16] {
        Fuzz.attempt { Fuzz.pull(try LoDTensor.readCombined(path, names: (0..<n).map { "v\($0)" })) }
    }
    Fuzz.load(folder)
    return 0
}
