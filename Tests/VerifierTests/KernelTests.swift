import BinaryIO
import Foundation
import ModelIR
import TestSupport
import Testing
@testable import Verifier

/// The SIMD row operations against scalar references in Double (libm's exp and erf).
@Suite struct KernelTests {
    static func apply(_ values: [Float], _ f: (UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
        var out = values
        out.withUnsafeMutableBufferPointer { f($0.baseAddress!, $0.count) }
        return out
    }

    static let grid: [Float] = stride(from: -12.0, through: 12.0, by: 0.0137).map { Float($0) } + [0, -0, 1e-20, -1e-20, 30, -30]

    @Test func expIsWithinTwoUlpsDownToTheSmallestNormal() {
        let xs: [Float] = stride(from: -87.3, through: 0, by: 0.0131).map { Float($0) } + [0, -1e-30]
        var worst: Double = 0
        for start in stride(from: 0, to: xs.count - 8, by: 8) {
            let lanes = Vector.exp(Vector.Lanes(xs[start..<(start + 8)]))
            for i in 0..<8 {
                let exact = Foundation.exp(Double(xs[start + i]))
                worst = max(worst, abs(Double(lanes[i]) - exact) / exact)
            }
        }
        #expect(worst < 2.5e-7, "worst relative error \(worst)")
        let edges = Vector.exp(Vector.Lanes(-100, -.infinity, -87.5, 0, -0.5, -1, -2, -3))
        #expect(edges[0] == 0 && edges[1] == 0 && edges[2] == 0 && edges[3] == 1)
        #expect(Vector.exp(Vector.Lanes(repeating: .nan))[0].isNaN)
    }

    /// The Swift lanes, and the AVX2 + FMA C kernels (Sources/CBLAS/vector_kernels.c) where this CPU runs them.
    static let paths = Vector.native ? [false, true] : [false]

    @Test(arguments: paths)
    func geluMatchesTheErfDefinition(native: Bool) {
        let out = Self.apply(Self.grid) { Vector.activate($0, count: $1, .gelu, native: native) }
        for (x, y) in zip(Self.grid, out) {
            let exact = 0.5 * Double(x) * (1 + Foundation.erf(Double(x) / 2.0.squareRoot()))
            #expect(abs(Double(y) - exact) <= 2e-7 * max(1, abs(Double(x))), "gelu(\(x)) = \(y), expected \(exact)")
        }
        let edges = Self.apply([.nan, .infinity, -.infinity, 40, -40]) { Vector.activate($0, count: $1, .gelu, native: native) }
        #expect(edges[0].isNaN && edges[1] == .infinity && edges[3] == 40 && edges[4] == 0)
    }

    @Test func tanhAndTanhGeluMatchLibm() {
        let t = Self.apply(Self.grid) { Vector.activate($0, count: $1, .tanh) }
        let g = Self.apply(Self.grid) { Vector.activate($0, count: $1, .geluTanh) }
        for (i, x) in Self.grid.enumerated() {
            let d = Double(x)
            #expect(abs(Double(t[i]) - Foundation.tanh(d)) <= 2e-7, "tanh(\(x))")
            let exact = 0.5 * d * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
            #expect(abs(Double(g[i]) - exact) <= 2e-7 * max(1, abs(d)), "gelu_tanh(\(x))")
        }
    }

    @Test(arguments: [1, 7, 8, 37, 768])
    func layerNormMatchesADoubleReference(width: Int) {
        let x = (0..<width).map { Float(sin(Double($0) * 1.7) * 3 + 0.5) }
        let weight = (0..<width).map { Float(1 + 0.01 * Double($0 % 13)) }, shift = (0..<width).map { Float(0.1 * Double($0 % 5)) }
        let out = Self.apply(x) { p, n in
            weight.withUnsafeBufferPointer { w in shift.withUnsafeBufferPointer { b in
                Vector.layerNorm(p, count: n, weight: w.baseAddress!, shift: b.baseAddress!, eps: 1e-12)
            }}
        }
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(width)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(width)
        for i in 0..<width {
            let exact = (Double(x[i]) - mean) / (variance + 1e-12).squareRoot() * Double(weight[i]) + Double(shift[i])
            #expect(abs(Double(out[i]) - exact) <= 2e-6, "element \(i): \(out[i]) against \(exact)")
        }
    }

    static func softmax(_ row: [Float], mask: [Float]? = nil, native: Bool = Vector.native) -> [Float] {
        apply(row) { p, n in
            if let mask { mask.withUnsafeBufferPointer { Vector.softmax(p, count: n, adding: $0.baseAddress, and: nil, native: native) } }
            else { Vector.softmax(p, count: n, adding: nil, and: nil, native: native) }
        }
    }

    @Test(arguments: [1, 5, 8, 13, 128], paths)
    func softmaxMatchesADoubleReferenceWithAMask(count: Int, native: Bool) {
        let row = (0..<count).map { Float(cos(Double($0) * 0.9) * 6) }
        let mask = (0..<count).map { $0 % 3 == 2 ? -Float.greatestFiniteMagnitude : 0 }
        let out = Self.softmax(row, mask: mask, native: native)
        let kept = (0..<count).filter { mask[$0] == 0 }
        let top = kept.map { Double(row[$0]) }.max()!
        let total = kept.reduce(0.0) { $0 + Foundation.exp(Double(row[$1]) - top) }
        for i in 0..<count {
            let exact = mask[i] == 0 ? Foundation.exp(Double(row[i]) - top) / total : 0
            #expect(abs(Double(out[i]) - exact) <= 3e-7, "p[\(i)] = \(out[i]), expected \(exact)")
        }
    }

    @Test(arguments: paths)
    func softmaxRowsFollowPyTorchOnNaNInfinityAndFullMasks(native: Bool) {
        for count in [3, 11] {  // within one set of lanes, and across a whole set and a tail
            for bad in [Float.nan, .infinity] {
                let row = (0..<count).map { $0 == 1 ? bad : Float($0) }
                let out = Self.softmax(row, native: native)
                #expect(out.filter(\.isNaN).count == count, "\(bad) in \(count) scores")
            }
            #expect(Self.softmax((0..<count).map(Float.init), mask: Array(repeating: -.infinity, count: count), native: native)
                    == Array(repeating: 0, count: count))
            let one = (0..<count).map { $0 == 1 ? Float(0) : -.infinity }
            #expect(Self.softmax(one, native: native) == one.map { $0 == 0 ? 1 : 0 })
        }
    }

    /// The C kernels and the Swift lanes compute the same formulas; only the fused multiply-adds round differently.
    @Test(.enabled(if: Vector.native), arguments: [1, 7, 8, 13, 128, 1536])
    func theNativeKernelsAgreeWithTheSwiftLanes(count: Int) {
        let row = (0..<count).map { Float(sin(Double($0) * 0.37) * 7) }
        let bias = (0..<count).map { Float(cos(Double($0) * 0.11)) }
        let mask = (0..<count).map { $0 % 5 == 3 ? -Float.greatestFiniteMagnitude : 0 }
        func run(_ native: Bool) -> (gelu: [Float], softmax: [Float]) {
            bias.withUnsafeBufferPointer { b in mask.withUnsafeBufferPointer { m in
                (Self.apply(row) { Vector.activate($0, adding: b.baseAddress!, count: $1, .gelu, native: native) },
                 Self.apply(row) { Vector.softmax($0, count: $1, adding: m.baseAddress, and: b.baseAddress, native: native) })
            }}
        }
        let (native, portable) = (run(true), run(false))
        for i in 0..<count {
            #expect(abs(native.gelu[i] - portable.gelu[i]) <= 4e-7 * max(1, abs(portable.gelu[i])), "gelu at \(i)")
            #expect(abs(native.softmax[i] - portable.softmax[i]) <= 1e-7, "softmax at \(i)")
        }
    }

    @Test func theBLASLibraryAndItsKernelAreReported() throws {
        let blas = try BLASLibrary.loaded()
        #expect(!blas.library.isEmpty)
        #if !canImport(Accelerate)
        #expect(blas.threads == 1, "the forward passes split rows over the cores; the library must not thread again")
        if blas.kernelChoice == "cpuid" {  // OpenBLAS ran the kernel family cpuid called for
            #expect(blas.kernel.lowercased() == blas.detectedKernel.lowercased(), "\(blas.kernel) against \(blas.detectedKernel)")
        }
        #endif
    }

    /// The few-rows product kernel against a Double reference, over row counts and widths that hit every block and
    /// tail (4 rows × 3 columns blocks, k not a multiple of 8), with W split into column bands as the linear layer
    /// does.
    @Test(.enabled(if: Vector.native), arguments: [(1, 1, 1), (3, 5, 7), (4, 3, 8), (5, 7, 13), (32, 96, 64), (17, 50, 1024), (64, 130, 37)])
    func smallProductMatchesADoubleReference(rows: Int, columns: Int, k: Int) {
        let x = (0..<(rows * k)).map { Float(sin(Double($0) * 0.37) * 2) }
        let w = (0..<(columns * k)).map { Float(cos(Double($0) * 0.11) * 0.5) }
        var y = [Float](repeating: .nan, count: rows * columns)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            Kernels.productByColumns(xp.baseAddress!, rows: rows, inFeatures: k, weight: wp.baseAddress!, outFeatures: columns,
                                     into: yp.baseAddress!, ldy: columns)
        }}}
        for r in 0..<rows {
            for c in 0..<columns {
                var exact = 0.0, magnitude = 0.0
                for p in 0..<k {
                    exact += Double(x[r * k + p]) * Double(w[c * k + p])
                    magnitude += abs(Double(x[r * k + p]) * Double(w[c * k + p]))
                }
                #expect(abs(Double(y[r * columns + c]) - exact) <= 1e-6 * max(1, magnitude), "y[\(r), \(c)] = \(y[r * columns + c]), expected \(exact)")
            }
        }
    }

    /// The tensor-comparison sums in AVX registers give the Swift lanes' figures bit for bit.
    @Test(.enabled(if: Vector.native), arguments: [4, 7, 1000, 4099])
    func qualitySumsMatchTheSwiftLanes(count: Int) {
        let a = (0..<count).map { Float(sin(Double($0) * 0.7) * 3) }
        var b = a.enumerated().map { $0.element + Float(cos(Double($0.offset) * 1.3) * 1e-3) }
        if count > 5 { b[5] = .nan }
        var swift = TensorQuality.Sums(), native = TensorQuality.Sums()
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
            swift.add(a, b, native: false)
            native.add(a, b, native: true)
        }}
        #expect(swift.squared.bitPattern == native.squared.bitPattern || (swift.squared.isNaN && native.squared.isNaN))
        #expect(swift.worst.bitPattern == native.worst.bitPattern)
        #expect(swift.dot.bitPattern == native.dot.bitPattern || (swift.dot.isNaN && native.dot.isNaN))
        #expect(swift.na.bitPattern == native.na.bitPattern && swift.nb.bitPattern == native.nb.bitPattern || swift.nb.isNaN && native.nb.isNaN)
    }
}

/// A tensor comparison over mapped data runs a window of chunks at a time (releasing each window's pages); its figures
/// are the ones the whole-buffer path gives, bit for bit.
@Suite struct TensorQualityWindowTests {
    @Test func windowedMappedComparisonMatchesTheWholeBufferOne() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let count = 9 * (1 << 18) + 1234  // more than one window of 8 chunks, and a partial chunk
        var reference = [UInt8](), candidate = [UInt8]()
        reference.reserveCapacity(count * 4)
        candidate.reserveCapacity(count * 2)
        for i in 0..<count {
            let x = Float(sin(Double(i) * 0.001) * 2)
            withUnsafeBytes(of: x.bitPattern.littleEndian) { reference += $0 }
            withUnsafeBytes(of: FloatBits.halfBits(fromFloatBits: x.bitPattern).littleEndian) { candidate += $0 }
        }
        let path = folder.file("pair.bin")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(reference + candidate)))
        let file = try MappedFile(path: path)
        let a = Tensor(name: "a", dtype: .f32, shape: [count], data: .mapped(file, range: 0..<(count * 4)))
        let b = Tensor(name: "b", dtype: .f16, shape: [count], data: .mapped(file, range: (count * 4)..<(count * 6)))
        #expect(a.data.lendsRanges && b.data.lendsRanges)
        let windowed = try TensorQuality.measure(name: "t", reference: a, candidate: b)
        let whole = try TensorQuality.measure(name: "t", reference: Tensor(name: "a", dtype: .f32, shape: [count], data: .owned(TensorBuffer(reference))),
                                              candidate: Tensor(name: "b", dtype: .f16, shape: [count], data: .owned(TensorBuffer(candidate))))
        #expect(windowed.rmsError.bitPattern == whole.rmsError.bitPattern && windowed.maxError == whole.maxError)
        #expect(windowed.cosineSimilarity.bitPattern == whole.cosineSimilarity.bitPattern)
        #expect(windowed.maxError > 0)
    }
}
