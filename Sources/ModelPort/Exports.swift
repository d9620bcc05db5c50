// `import ModelPort` is the one import an app needs: the IR (`Model`, `Tensor`, `DType`, `ModelConfig`, `JSON`),
// the transforms, the verifier's reports, and every format's reader and output types.
@_exported import BinaryIO
@_exported import FlaxFormat
@_exported import GGUFFormat
@_exported import KerasFormat
@_exported import ModelIR
@_exported import ONNXFormat
@_exported import PaddleFormat
@_exported import PyTorchFormat
@_exported import Quantization
@_exported import Reports
@_exported import SafetensorsFormat
@_exported import TensorFlowFormat
@_exported import Tokenizers
@_exported import Transforms
@_exported import Verifier
