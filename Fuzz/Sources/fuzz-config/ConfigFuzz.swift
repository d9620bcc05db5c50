import BinaryIO
import FuzzSupport
import ModelIR

/// The JSON side files of a model: the input is parsed by BinaryIO's JSON parser, read as a Hugging Face
/// `config.json`, and then laid out as `config.json` and `tokenizer.json` of a Hugging Face folder (with real weights
/// from Samples/bert-tiny) and as `model_config.json` of a PaddleNLP folder, each loaded as the CLI loads it.
let huggingFace: String = {
    let folder = Fuzz.scratch("config-hf")
    Fuzz.copySample("bert-tiny/model.safetensors", to: folder + "/model.safetensors")
    return folder
}()
let paddle: String = {
    let folder = Fuzz.scratch("config-paddle")
    Fuzz.copySample("paddle/rbt-tiny/model_state.pdparams", to: folder + "/model_state.pdparams")
    return folder
}()

@_cdecl("fuzz_config_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv) { data, count in fuzz(UnsafeRawPointer(data) ?? UnsafeRawPointer(bitPattern: 1)!, count) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    Fuzz.attempt {
        let json = try JSON.parse(Array(bytes), path: "config.json")
        _ = try ModelConfig(huggingFaceJSON: json, file: "config.json")
    }
    Fuzz.write(bytes, to: huggingFace + "/config.json")
    Fuzz.write(bytes, to: huggingFace + "/tokenizer.json")
    Fuzz.load(huggingFace)
    Fuzz.write(bytes, to: paddle + "/model_config.json")
    Fuzz.load(paddle)
    return 0
}
