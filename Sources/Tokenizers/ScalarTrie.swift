/// A trie over Unicode scalars: the prefix searches tokenizers make (every vocabulary piece that starts at a
/// position; the longest added token there) in time linear in the length matched, whatever the vocabulary holds.
struct ScalarTrie: Sendable {
    private var children: [[Unicode.Scalar: Int32]] = [[:]]
    private var values: [Int32] = [-1]

    /// Adds `key` with `value` (the first value of a key is kept).
    mutating func insert(_ key: some Sequence<Unicode.Scalar>, value: Int) {
        var node = 0
        for scalar in key {
            if let next = children[node][scalar] {
                node = Int(next)
            } else {
                children.append([:])
                values.append(-1)
                children[node][scalar] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        if values[node] < 0 { values[node] = Int32(value) }
    }

    /// Calls `body(end, value)` for every key that `scalars[start...]` starts with, shortest first.
    func prefixes(of scalars: [Unicode.Scalar], from start: Int, _ body: (Int, Int) -> Void) {
        var node = 0
        var i = start
        while i < scalars.count, let next = children[node][scalars[i]] {
            node = Int(next)
            i += 1
            if values[node] >= 0 { body(i, Int(values[node])) }
        }
    }

    /// The longest key `scalars[start...]` starts with: its end and value.
    func longest(in scalars: [Unicode.Scalar], from start: Int) -> (end: Int, value: Int)? {
        var found: (Int, Int)?
        prefixes(of: scalars, from: start) { found = ($0, $1) }
        return found
    }
}
