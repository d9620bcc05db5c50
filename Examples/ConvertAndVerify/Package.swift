// swift-tools-version:6.0
import PackageDescription

// A program written against `import ModelPort` alone: converts a model of any format to any output and verifies
// the result against the source. Run it from the repository's root:
//   swift run --package-path Examples/ConvertAndVerify convert-and-verify SOURCE DEST
let package = Package(
    name: "ConvertAndVerify",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "ModelPort", path: "../..")],
    targets: [
        .executableTarget(name: "convert-and-verify", dependencies: [.product(name: "ModelPort", package: "ModelPort")]),
    ],
    swiftLanguageModes: [.v6]
)
