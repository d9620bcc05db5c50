/// A tensor's dimensions, outermost first (row-major, as PyTorch and safetensors list them).
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dimensions: [Int]

    public init(_ dimensions: [Int]) { self.dimensions = dimensions }
    public init(arrayLiteral elements: Int...) { self.dimensions = elements }

    /// The number of dimensions (0 for a scalar).
    public var rank: Int { dimensions.count }

    /// The number of elements, or `nil` when a dimension is negative or the product overflows.
    public var elementCount: Int? {
        var total = 1
        for d in dimensions {
            guard d >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            total = product
        }
        return total
    }

    public subscript(index: Int) -> Int { dimensions[index] }

    public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
}
