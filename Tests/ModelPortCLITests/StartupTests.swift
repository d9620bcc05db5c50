import Foundation
import Testing

/// What modelport loads at every start: neither full Foundation (libFoundation, its internationalization library
/// and ICU data) nor libhdf5 or libzip with the thirty-odd libraries they bring; those two are loaded with dlopen
/// only when a Keras .h5 or a zip archive is read (Sources/CHDF5/hdf5.c, Sources/CLibzip/zip.c).
@Suite struct StartupTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func sources(withSuffix suffix: String) throws -> [String] {
        let folder = root + "/Sources"
        let all = try #require(FileManager.default.enumerator(atPath: folder)).compactMap { $0 as? String }
        return all.filter { $0.hasSuffix(suffix) }.map { folder + "/" + $0 }
    }

    /// Every `import Foundation` is the fallback of `#if canImport(FoundationEssentials)` or Darwin-only.
    @Test func noModuleImportsFullFoundationOnLinux() throws {
        var unguarded: [String] = []
        for path in try Self.sources(withSuffix: ".swift") {
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where line.trimmingCharacters(in: .whitespaces).hasSuffix("import Foundation") {
                let previous = number > 0 ? lines[number - 1].trimmingCharacters(in: .whitespaces) : ""
                if previous != "#else" && previous != "#if canImport(Darwin)" { unguarded.append("\(path):\(number + 1)") }
            }
        }
        #expect(unguarded == [])
    }

    /// No module map links libhdf5 or libzip at build time.
    @Test func hdf5AndLibzipAreNotLinked() throws {
        for path in try Self.sources(withSuffix: "module.modulemap") {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(!text.contains("link \"hdf5") && !text.contains("link \"zip\""), "\(path)")
        }
        let package = try String(contentsOfFile: Self.root + "/Package.swift", encoding: .utf8)
        #expect(!package.contains("pkgConfig: \"hdf5\"") && !package.contains("pkgConfig: \"libzip\""))
    }

    /// SwiftProtobuf's default traits import Foundation (BinaryDelimitedStreams): they stay off.
    @Test func swiftProtobufIsUsedWithoutItsFoundationTraits() throws {
        let package = try String(contentsOfFile: Self.root + "/Package.swift", encoding: .utf8)
        let line = try #require(package.split(separator: "\n").first { $0.contains("apple/swift-protobuf") })
        #expect(line.contains("traits: []"))
    }
}
