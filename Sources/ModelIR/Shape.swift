/// A tensor's dimensions, outermost first (row-major, as PyTorch and safetensors list them).
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dimensions: [Int]

    public init(_ dimensions: [Int]) { self.dimensions = dimensions }
    public init(arrayLiteral elements: Int...) { self.dimensions = elements }

    /// The number of dimensions (0 for a scalar).
    public var rank: Int { dimensions.count }

    /// The number of elements, or `nil` when a dimension is negative, the product of the dimensions
    /// (zeros counted as one) overflows, or a zero-size shape spans more than
    /// `ReaderLimits.maxEmptyTensorExtent` (`[2^63 - 1, 0]` holds no data, yet every stride, transpose, packing or
    /// per-row scale computed from it multiplies its other dimensions; real empty tensors are far smaller).
    ///
    /// Counting zeros as one means that any partial product a consumer computes (a stride, a row count) fits
    /// in `Int` whenever this is non-nil.
    public var elementCount: Int? {
        var total = 1
        var extent = 1
        for d in dimensions {
            guard d >= 0 else { return nil }
            let (product, overflow) = extent.multipliedReportingOverflow(by: max(d, 1))
            if overflow { return nil }
            extent = product
            total = d == 0 ? 0 : total &* d
        }
        if total == 0, extent > ReaderLimits.current.maxEmptyTensorExtent { return nil }
        return total
    }

    public subscript(index: Int) -> Int { dimensions[index] }

    public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
}
