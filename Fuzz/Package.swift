// swift-tools-version:6.0
// libFuzzer targets for every ModelPort reader, kept out of the main package so `swift build` and `make test` stay as
// they are. Build and run them with `make fuzz` (see README.md, "Fuzzing").
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder, so the main package's identity is the checkout's folder name.
let mainPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

/// One executable per reader; `make fuzz` runs each with its own seeds from Samples/.
let fuzzers = [
    "fuzz-safetensors", "fuzz-index", "fuzz-config", "fuzz-pickle", "fuzz-pytorch", "fuzz-pdparams",
    "fuzz-lodtensor", "fuzz-paddle-program", "fuzz-tf-bundle", "fuzz-gguf", "fuzz-keras", "fuzz-flax", "fuzz-onnx",
]

let package = Package(
    name: "ModelPortFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: [
            "CFuzzerDriver",
            .product(name: "ModelPort", package: mainPackage.lastPathComponent.lowercased()),
        ]),
    ] + fuzzers.map { .executableTarget(name: $0, dependencies: ["FuzzSupport"]) },
    swiftLanguageModes: [.v6]
)
