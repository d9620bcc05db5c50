import Foundation
import FuzzSupport

/// A Paddle inference program: protobuf ProgramDesc (`inference.pdmodel`), or Paddle 3's PIR JSON (`inference.json`)
/// when the input starts with `{`. It is read twice: beside the combined params of Samples/paddle/inference-pdmodel,
/// and alone, where it names one file per variable.
let combined: String = {
    let folder = Fuzz.scratch("program-combined")
    Fuzz.copySample("paddle/inference-pdmodel/inference.pdiparams", to: folder + "/inference.pdiparams")
    return folder
}()
let alone = Fuzz.scratch("program-alone/model")

@_cdecl("fuzz_paddle_program_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let name = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 } == UInt8(ascii: "{")
        ? "inference.json" : "inference.pdmodel"
    Fuzz.write(bytes, to: combined + "/" + name)
    Fuzz.load(combined + "/" + name)
    try? FileManager.default.removeItem(atPath: combined + "/" + name)
    Fuzz.write(bytes, to: alone + "/" + name)
    Fuzz.load(alone + "/" + name)
    try? FileManager.default.removeItem(atPath: alone + "/" + name)
    return 0
}
