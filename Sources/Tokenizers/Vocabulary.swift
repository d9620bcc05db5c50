/// Token → id, keyed by the token's UTF-8 bytes: Swift compares `String`s by canonical equivalence (`"e\u{301}" ==
/// "é"`), but a vocabulary is a table of exact byte strings, as in every other tokenizer implementation.
public struct Vocabulary: Sendable {
    private var ids: [[UInt8]: Int] = [:]

    public init() {}

    public init(_ pairs: some Sequence<(String, Int)>) {
        for (token, id) in pairs where ids[Array(token.utf8)] == nil { ids[Array(token.utf8)] = id }
    }

    public subscript(token: String) -> Int? {
        get { ids[Array(token.utf8)] }
        set { ids[Array(token.utf8)] = newValue }
    }

    public subscript(scalars: some Collection<Unicode.Scalar>) -> Int? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(scalars.count)
        for scalar in scalars { bytes += UTF8.encode(scalar)! }
        return ids[bytes]
    }

    public var count: Int { ids.count }
    public var maxId: Int? { ids.values.max() }

    /// Each token with its id.
    public var entries: [(token: String, id: Int)] { ids.map { (String(decoding: $0.key, as: UTF8.self), $0.value) } }
}
