// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "ModelPort",
    // Mutex (Synchronization) and String(validating:as:) need macOS 15 / iOS 18; Linux has both.
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .executable(name: "modelport", targets: ["modelport"]),
        .library(name: "ModelPort", targets: ["ModelPort"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // No traits: the default BinaryDelimitedStreams imports all of Foundation (and so links libFoundation and its
        // ICU data into modelport, loaded at every start); nothing here uses the delimited streams or FieldMask helpers.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0", traits: []),
        // `make docs`: DocC documentation of the library (swift package generate-documentation).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // read → normalize → transform → write → verify; each target depends only on those above it.
        .target(name: "CSystemShims", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "BinaryIO", dependencies: ["CSystemShims"]),
        .target(name: "ModelIR", dependencies: ["BinaryIO"]),
        .target(name: "SafetensorsFormat", dependencies: ["ModelIR", "BinaryIO", "Transforms"]),
        // libzip, loaded at run time when a zip archive is read (Sources/CLibzip/zip.c says why); libzip-dev to build.
        .target(name: "CLibzip", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The BLAS of the verifier, loaded at run time after a cpuid check (Sources/CBLAS/blas_loader.c says why).
        .target(name: "CBLAS", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "Pickle", dependencies: ["ModelIR", "BinaryIO"]),
        .target(name: "PyTorchFormat", dependencies: ["ModelIR", "BinaryIO", "Pickle", "Transforms", "CLibzip", "CZlib"]),
        .target(name: "TensorFlowFormat", dependencies: [
            "ModelIR", "BinaryIO", "Transforms", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "PaddleFormat", dependencies: [
            "ModelIR", "BinaryIO", "Pickle", "Transforms", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "ONNXFormat", dependencies: [
            "ModelIR", "BinaryIO", "CSystemShims", "Quantization", "Transforms", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "GGUFFormat", dependencies: ["ModelIR", "BinaryIO", "Quantization", "Transforms"]),
        // libhdf5, loaded at run time when a Keras .h5 is read (Sources/CHDF5/hdf5.c says why); its headers come
        // from libhdf5-dev.
        .target(name: "CHDF5", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        .target(name: "KerasFormat", dependencies: ["ModelIR", "BinaryIO", "Transforms", "CHDF5"]),
        .target(name: "FlaxFormat", dependencies: ["ModelIR", "BinaryIO", "Transforms"]),
        .target(name: "Quantization", dependencies: ["ModelIR", "BinaryIO", "CSystemShims"]),
        .target(name: "Transforms", dependencies: ["ModelIR", "BinaryIO", "Quantization"]),
        .target(name: "Tokenizers", dependencies: [
            "BinaryIO", "CSystemShims", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "Verifier", dependencies: [
            "ModelIR", "BinaryIO", "Quantization", "Tokenizers", .target(name: "CBLAS", condition: .when(platforms: [.linux])),
        ]),
        .target(name: "Reports", dependencies: ["ModelIR", "BinaryIO", "Verifier"]),
        .target(name: "ModelPort", dependencies: ["Verifier", "Reports", "Tokenizers", "ModelIR", "BinaryIO", "SafetensorsFormat", "TensorFlowFormat", "PyTorchFormat", "PaddleFormat", "GGUFFormat", "KerasFormat", "FlaxFormat", "ONNXFormat", "Transforms", "Quantization"]),
        .target(name: "ModelPortCLI", dependencies: [
            "ModelPort", "ONNXFormat", "Transforms", "Quantization", "ModelIR", "Verifier", "Reports", "Tokenizers",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "modelport", dependencies: ["ModelPortCLI"]),

        .target(name: "TestSupport", dependencies: ["ModelIR", "BinaryIO"], path: "Tests/TestSupport"),
        .testTarget(name: "BinaryIOTests", dependencies: ["TestSupport", "BinaryIO", "CSystemShims"]),
        .testTarget(name: "ModelIRTests", dependencies: ["TestSupport", "ModelIR", "BinaryIO"]),
        .testTarget(name: "SafetensorsFormatTests", dependencies: ["TestSupport", "SafetensorsFormat", "ModelIR", "BinaryIO"]),
        .testTarget(name: "TokenizersTests", dependencies: ["TestSupport", "Tokenizers", "BinaryIO"]),
        .testTarget(name: "VerifierTests", dependencies: ["TestSupport", "Verifier", "ModelIR", "SafetensorsFormat"]),
        .testTarget(name: "ReportsTests", dependencies: ["TestSupport", "Reports", "Verifier", "ModelIR"]),
        .testTarget(name: "GGUFFormatTests", dependencies: ["TestSupport", "GGUFFormat", "ModelIR", "BinaryIO", "Quantization", "SafetensorsFormat", "Transforms"]),
        .testTarget(name: "PaddleFormatTests", dependencies: ["TestSupport", "PaddleFormat", "ModelIR", "BinaryIO", "SafetensorsFormat", "Transforms"]),
        .testTarget(name: "PickleTests", dependencies: ["TestSupport", "Pickle", "ModelIR"]),
        .testTarget(name: "PyTorchFormatTests", dependencies: ["TestSupport", "PyTorchFormat", "Pickle", "ModelIR", "BinaryIO", "SafetensorsFormat"]),
        .testTarget(name: "KerasFormatTests", dependencies: ["TestSupport", "KerasFormat", "ModelIR", "BinaryIO", "SafetensorsFormat"]),
        .testTarget(name: "FlaxFormatTests", dependencies: ["TestSupport", "FlaxFormat", "ModelIR", "BinaryIO", "SafetensorsFormat"]),
        .testTarget(name: "TensorFlowFormatTests", dependencies: ["TestSupport", "TensorFlowFormat", "ModelIR", "BinaryIO", "SafetensorsFormat", "Transforms"]),
        .testTarget(name: "QuantizationTests", dependencies: ["TestSupport", "Quantization", "ModelIR", "BinaryIO", "SafetensorsFormat"]),
        .testTarget(name: "TransformsTests", dependencies: ["TestSupport", "Transforms", "ModelIR", "BinaryIO", "SafetensorsFormat", "Quantization"]),
        .testTarget(name: "ModelPortTests", dependencies: ["TestSupport", "ModelPort", "ONNXFormat", .product(name: "SwiftProtobuf", package: "swift-protobuf"), "ModelIR", "BinaryIO", "SafetensorsFormat", "Transforms", "PaddleFormat", "Pickle", "Quantization", "GGUFFormat", "Verifier", "TensorFlowFormat"]),
        .testTarget(name: "ModelPortCLITests", dependencies: ["TestSupport", "ModelPortCLI", "ModelPort", "ModelIR", "SafetensorsFormat", "Verifier"]),
    ],
    swiftLanguageModes: [.v6]
)
