/// String key/value metadata that keeps insertion order (safetensors writes `__metadata__` in the order
/// its keys were given, so byte-identical output needs the order kept).
public struct Metadata: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var pairs: [(key: String, value: String)] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        for (key, value) in elements { self[key] = value }
    }

    public static func == (lhs: Metadata, rhs: Metadata) -> Bool {
        lhs.pairs.count == rhs.pairs.count && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// The value of `key`; setting a new key appends it, setting `nil` removes it.
    public subscript(key: String) -> String? {
        get { pairs.first { $0.key == key }?.value }
        set {
            if let index = pairs.firstIndex(where: { $0.key == key }) {
                if let newValue { pairs[index].value = newValue } else { pairs.remove(at: index) }
            } else if let newValue {
                pairs.append((key, newValue))
            }
        }
    }

    public var isEmpty: Bool { pairs.isEmpty }
    public var count: Int { pairs.count }

    public func makeIterator() -> IndexingIterator<[(key: String, value: String)]> { pairs.makeIterator() }

    /// Adds the keys of `other` that this one lacks.
    public mutating func merge(_ other: Metadata) {
        for (key, value) in other where self[key] == nil { self[key] = value }
    }
}
