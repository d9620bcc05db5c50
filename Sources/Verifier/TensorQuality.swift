import BinaryIO
import CBLAS
import ModelIR
import Quantization

/// How far a converted tensor is from its source, both read back as f32.
public struct TensorQuality: Sendable {
    public var name: String
    public var dtype: DType
    public var rmsError: Double
    public var maxError: Double
    public var cosineSimilarity: Double

    public init(name: String, dtype: DType, rmsError: Double, maxError: Double, cosineSimilarity: Double) {
        self.name = name
        self.dtype = dtype
        self.rmsError = rmsError
        self.maxError = maxError
        self.cosineSimilarity = cosineSimilarity
    }

    /// Compares `candidate` (any type the verifier reads, quantized included) with `reference`.
    ///
    /// Both are decoded 2^18 values at a time (a whole number of blocks of every type), the chunks spread over the
    /// cores, so the memory it takes is a few MB per core whatever the tensor's size. Each chunk's sums run in four
    /// lanes in Double; the chunks' sums are then added in chunk order, so the figures do not depend on the thread
    /// timing (they differ from one running sum over the elements only by Double rounding).
    public static func measure(name: String, reference: Tensor, candidate: Tensor) throws -> TensorQuality {
        let chunk = 1 << 18
        if let count = reference.info.elementCount, count == candidate.info.elementCount, count > chunk,
           reference.info.byteCount != nil, candidate.info.byteCount != nil,
           FloatValues.decodes(reference.dtype), FloatValues.decodes(candidate.dtype) {
            let chunks = (count + chunk - 1) / chunk
            var parts = [Sums?](repeating: nil, count: chunks)
            // Chunks `range` from `a` and `b`, which hold elements `first ..<` of each tensor.
            func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, first: Int, chunks range: Range<Int>) {
                parts.withUnsafeMutableBufferPointer { slots in
                    Parallel.forEachChunk(of: range.count, size: 1, lending: (a, b, slots)) { local, lent in
                        let (a, b, slots) = lent
                        for c in local.lowerBound + range.lowerBound..<local.upperBound + range.lowerBound {
                            let start = c * chunk, n = min(chunk, count - start)
                            guard let x = slice(a, reference.dtype, start - first, n), let y = slice(b, candidate.dtype, start - first, n)
                            else { continue }
                            slots[c] = FloatValues.withValues(x, from: reference.dtype) { x in
                                FloatValues.withValues(y, from: candidate.dtype) { y -> Sums? in
                                    guard x.count == n, y.count == n else { return nil }
                                    var sums = Sums()
                                    sums.add(x, y)
                                    return sums
                                } ?? nil
                            } ?? nil
                        }
                    }
                }
            }
            if reference.data.lendsRanges || candidate.data.lendsRanges {
                // A mapped side is read a window of chunks at a time, each window's pages released once compared, so
                // it holds a window whatever the tensor's size; a computed side (a dequantized weight) is computed
                // once, whole, and sliced.
                let window = 8
                try Self.withWholeUnlessMapped(reference) { wholeA in
                    try Self.withWholeUnlessMapped(candidate) { wholeB in
                        for firstChunk in stride(from: 0, to: chunks, by: window) {
                            let range = firstChunk..<min(chunks, firstChunk + window)
                            let first = firstChunk * chunk, n = min(count, range.upperBound * chunk) - first
                            guard let aFrom = reference.dtype.byteCount(elements: first), let aLength = reference.dtype.byteCount(elements: n),
                                  let bFrom = candidate.dtype.byteCount(elements: first), let bLength = candidate.dtype.byteCount(elements: n)
                            else { break }
                            let done: Bool? = try Self.lend(reference, wholeA, aFrom..<(aFrom + aLength)) { a in
                                try Self.lend(candidate, wholeB, bFrom..<(bFrom + bLength)) { b in
                                    compare(a, b, first: first, chunks: range)
                                    return true
                                } ?? false
                            }
                            guard done == true else { break }  // outside the data: those chunks stay nil and are named below
                        }
                    }
                }
            } else {
                try reference.withBytes { a in
                    try candidate.withBytes { b in compare(a, b, first: 0, chunks: 0..<chunks) }
                }
            }
            var sums = Sums()
            for (c, part) in parts.enumerated() {
                guard let part else {
                    let start = c * chunk
                    throw VerifierError("tensor '\(name)': elements \(start)..<\(start + min(chunk, count - start)) cannot be decoded")
                }
                sums.combine(part)
            }
            return sums.quality(name: name, dtype: candidate.dtype, count: count)
        }
        var sums = Sums()
        let a = try Weights.floats(of: reference), b = try Weights.floats(of: candidate)
        guard a.count == b.count else { throw VerifierError("tensor '\(name)': \(a.count) vs \(b.count) elements") }
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in sums.add(a, b) } }
        return sums.quality(name: name, dtype: candidate.dtype, count: a.count)
    }

    /// Runs `body` with the tensor's whole bytes, or with nil when they are a mapping that lends ranges (read in windows).
    private static func withWholeUnlessMapped(_ tensor: Tensor, _ body: (UnsafeRawBufferPointer?) throws -> Void) throws {
        if tensor.data.lendsRanges { return try body(nil) }
        try tensor.withBytes { try body($0) }
    }

    /// Bytes `range` of the tensor: a slice of `whole` when it is given, else lent from the mapping (released after);
    /// nil when the range lies outside.
    private static func lend<R>(_ tensor: Tensor, _ whole: UnsafeRawBufferPointer?, _ range: Range<Int>,
                                _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        guard let whole else { return try tensor.data.withMappedBytes(in: range, body) }
        guard range.lowerBound >= 0, range.upperBound <= whole.count else { return nil }
        return try body(UnsafeRawBufferPointer(rebasing: whole[range]))
    }

    /// The bytes of elements `start ..< start + count` of `bytes` holding `dtype` (whole blocks: `start` and `count`
    /// are multiples of every block size, or `count` runs to the end).
    private static func slice(_ bytes: UnsafeRawBufferPointer, _ dtype: DType, _ start: Int, _ count: Int) -> UnsafeRawBufferPointer? {
        guard let from = dtype.byteCount(elements: start), let length = dtype.byteCount(elements: count),
              from + length <= bytes.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[from..<(from + length)])
    }

    /// Running sums of the comparison, in element order.
    struct Sums {
        var squared = 0.0, worst = 0.0, dot = 0.0, na = 0.0, nb = 0.0

        mutating func add(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>, native: Bool = Vector.native) {
            // Four lanes, each a running sum in element order over every fourth element.
            var squared4 = SIMD4<Double>(), dot4 = SIMD4<Double>()
            var na4 = SIMD4<Double>(), nb4 = SIMD4<Double>()
            var w0 = 0.0, w1 = 0.0, w2 = 0.0, w3 = 0.0
            let whole = a.count / 4 * 4
            var i = 0
            if native, whole > 0, let pa = a.baseAddress, let pb = b.baseAddress {
                // The same lanes in AVX registers (vector_kernels.c), bit for bit.
                var lanes = [Double](repeating: 0, count: 20)
                modelport_vector_quality_lanes(pa, pb, whole, &lanes)
                squared4 = SIMD4(lanes[0..<4])
                (w0, w1, w2, w3) = (lanes[4], lanes[5], lanes[6], lanes[7])
                dot4 = SIMD4(lanes[8..<12])
                na4 = SIMD4(lanes[12..<16])
                nb4 = SIMD4(lanes[16..<20])
                i = whole
            }
            while i < whole {
                let x = SIMD4<Double>(Double(a[i]), Double(a[i + 1]), Double(a[i + 2]), Double(a[i + 3]))
                let y = SIMD4<Double>(Double(b[i]), Double(b[i + 1]), Double(b[i + 2]), Double(b[i + 3]))
                let d = x - y
                squared4 += d * d
                w0 = max(w0, abs(d[0])); w1 = max(w1, abs(d[1])); w2 = max(w2, abs(d[2])); w3 = max(w3, abs(d[3]))
                dot4 += x * y
                na4 += x * x
                nb4 += y * y
                i += 4
            }
            squared += squared4.sum()
            worst = max(worst, w0, w1, w2, w3)
            dot += dot4.sum()
            na += na4.sum()
            nb += nb4.sum()
            for i in whole..<a.count {
                let x = Double(a[i]), y = Double(b[i]), e = abs(x - y)
                squared += e * e
                worst = max(worst, e)
                dot += x * y
                na += x * x
                nb += y * y
            }
        }

        mutating func combine(_ other: Sums) {
            squared += other.squared
            worst = max(worst, other.worst)
            dot += other.dot
            na += other.na
            nb += other.nb
        }

        func quality(name: String, dtype: DType, count: Int) -> TensorQuality {
            let cosine = na == 0 || nb == 0 ? (na == nb ? 1 : 0) : dot / (na.squareRoot() * nb.squareRoot())
            return TensorQuality(name: name, dtype: dtype, rmsError: (squared / Double(max(count, 1))).squareRoot(),
                                 maxError: worst, cosineSimilarity: cosine)
        }
    }
}
