/// RoBERTa's tokenizer (GPT-2's byte-level BPE) as transformers' RobertaTokenizer runs it: the text cut by GPT-2's
/// pre-tokenizer pattern, each piece's UTF-8 bytes spelled with GPT-2's byte-to-unicode alphabet, then merged by
/// the ranks of `merges.txt` (lowest rank first, leftmost on ties), framed `<s> A </s>` / `<s> A </s></s> B </s>`
/// (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", §2.2; `tokenizers`' ByteLevel
/// pre-tokenizer and BPE model).
public struct ByteLevelBPETokenizer: Tokenizer {
    public let name = "RobertaTokenizer"
    public let vocabulary: Vocabulary
    public let tokensById: [Int: String]
    public let ranks: [Pair: Int]
    public let addedTokens: AddedTokens
    public var template: SpecialTokensTemplate
    public let maxLength: Int?
    public let padId: Int
    public let unknownId: Int?
    /// Whether a space is put before the text (RoBERTa's `add_prefix_space`, off by default).
    public let addPrefixSpace: Bool

    /// Two symbols a merge joins.
    public struct Pair: Hashable, Sendable {
        public var left: String
        public var right: String
        public init(_ left: String, _ right: String) {
            self.left = left
            self.right = right
        }
    }

    /// The specials of RoBERTa's tokenizer (`<s>`, `</s>`, `<pad>`, `<unk>`, `<mask>` with lstrip).
    public struct Specials: Sendable {
        public var bos = "<s>", eos = "</s>", pad = "<pad>", unknown = "<unk>", mask = "<mask>"
        public init() {}
    }

    public init(vocabulary given: [(String, Int)], merges: [Pair], specials: Specials = Specials(), addedTokens extra: [AddedToken] = [],
                maxLength: Int? = nil, addPrefixSpace: Bool = false) throws {
        var vocabulary = Vocabulary(given)
        var ranks: [Pair: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, pair) in merges.enumerated() where ranks[pair] == nil { ranks[pair] = rank }
        var added = AddedTokens()
        for token in [specials.bos, specials.pad, specials.eos, specials.unknown] where vocabulary[token] != nil {
            added.add(AddedToken(token))
        }
        if vocabulary[specials.mask] != nil { added.add(AddedToken(specials.mask)) }
        var next = (vocabulary.maxId ?? -1) + 1
        for token in extra {
            added.add(token)
            if vocabulary[token.content] == nil {
                vocabulary[token.content] = next
                next += 1
            }
        }
        guard let bos = vocabulary[specials.bos], let eos = vocabulary[specials.eos] else {
            throw TokenizerError(.missingToken(specials.bos), "the BPE vocabulary lacks \(specials.bos) or \(specials.eos)")
        }
        var byId: [Int: String] = [:]
        for (token, id) in vocabulary.entries where byId[id] == nil || Array(token.utf8).lexicographicallyPrecedes(Array(byId[id]!.utf8)) {
            byId[id] = token
        }
        self.vocabulary = vocabulary
        self.tokensById = byId
        self.ranks = ranks
        self.addedTokens = added
        self.template = .roberta(bos: bos, eos: eos)
        self.maxLength = maxLength
        self.padId = vocabulary[specials.pad] ?? 1
        self.unknownId = vocabulary[specials.unknown]
        self.addPrefixSpace = addPrefixSpace
    }

    public var vocabularySize: Int { (tokensById.keys.max() ?? -1) + 1 }
    public func id(of token: String) -> Int? { vocabulary[token] }
    public func token(of id: Int) -> String? { tokensById[id] }

    public func pieces(of segment: String, first: Bool) -> [String] {
        var scalars = Array(segment.unicodeScalars)
        if addPrefixSpace, let head = scalars.first, !head.properties.isWhitespace { scalars.insert(" ", at: 0) }
        var out: [String] = []
        for range in Self.preTokenize(scalars) {
            let bytes = Array(String(String.UnicodeScalarView(scalars[range])).utf8)
            out += merge(bytes.map { Self.byteToUnicode[Int($0)] })
        }
        return out
    }

    /// BPE on one pre-token: repeatedly join the adjacent pair of lowest merge rank (the leftmost on ties), with a
    /// heap of candidate pairs over a linked list of symbols, so a long pre-token costs n log n, not n².
    func merge(_ symbols: [String]) -> [String] {
        let n = symbols.count
        guard n > 1 else { return symbols }
        var word = symbols
        var next = Array(1...n), previous = Array(-1..<(n - 1))
        var version = [Int](repeating: 0, count: n)
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        func consider(_ left: Int) {
            let right = next[left]
            guard left >= 0, right < n, let rank = ranks[Pair(word[left], word[right])] else { return }
            heap.push(.init(rank: rank, left: left, right: right, leftVersion: version[left], rightVersion: version[right]))
        }
        for i in 0..<(n - 1) { consider(i) }
        while let candidate = heap.pop() {
            let left = candidate.left, right = candidate.right
            guard alive[left], alive[right], next[left] == right, version[left] == candidate.leftVersion,
                  version[right] == candidate.rightVersion else { continue }
            word[left] += word[right]
            version[left] += 1
            alive[right] = false
            next[left] = next[right]
            if next[right] < n { previous[next[right]] = left }
            if previous[left] >= 0 { consider(previous[left]) }
            consider(left)
        }
        var out: [String] = []
        var i = 0
        while i < n {
            out.append(word[i])
            i = next[i]
        }
        return out
    }

    /// GPT-2's pre-tokenizer pattern,
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, as ranges of scalars.
    static func preTokenize(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        func isLetter(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
        func isNumber(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber: return true
            default: return false
            }
        }
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }
        func isOther(_ c: Unicode.Scalar) -> Bool { !isSpace(c) && !isLetter(c) && !isNumber(c) }
        func run(from i: Int, _ test: (Unicode.Scalar) -> Bool) -> Int {
            var j = i
            while j < s.count, test(s[j]) { j += 1 }
            return j
        }
        var ranges: [Range<Int>] = []
        var i = 0
        let n = s.count
        while i < n {
            // Contractions.
            if s[i] == "'", i + 1 < n {
                let a = s[i + 1]
                if a == "s" || a == "t" || a == "m" || a == "d" {
                    ranges.append(i..<(i + 2)); i += 2; continue
                }
                if i + 2 < n, (a == "r" && s[i + 2] == "e") || (a == "v" && s[i + 2] == "e") || (a == "l" && s[i + 2] == "l") {
                    ranges.append(i..<(i + 3)); i += 3; continue
                }
            }
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`.
            let body = s[i] == " " && i + 1 < n ? i + 1 : i
            var matched = false
            for test in [isLetter, isNumber, isOther] as [(Unicode.Scalar) -> Bool] {
                if body < n, test(s[body]) {
                    let end = run(from: body, test)
                    ranges.append(i..<end); i = end; matched = true
                    break
                }
                if body != i, test(s[i]) {  // the optional space left out (only possible when s[i] itself matches)
                    let end = run(from: i, test)
                    ranges.append(i..<end); i = end; matched = true
                    break
                }
            }
            if matched { continue }
            // `\s+(?!\S)`, then `\s+`.
            let end = run(from: i, isSpace)
            if end == n || end - i == 1 {
                ranges.append(i..<end)
            } else {
                ranges.append(i..<(end - 1))
            }
            i = end == n || end - i == 1 ? end : end - 1
        }
        return ranges
    }

    /// GPT-2's reversible byte-to-unicode alphabet: printable Latin-1 bytes stand for themselves, the others are
    /// shifted to U+0100 and up in byte order.
    static let byteToUnicode: [String] = {
        var table = [String](repeating: "", count: 256)
        var shifted: UInt32 = 256
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            if printable {
                table[byte] = String(Unicode.Scalar(UInt32(byte))!)
            } else {
                table[byte] = String(Unicode.Scalar(shifted)!)
                shifted += 1
            }
        }
        return table
    }()
}

/// A binary min-heap of merge candidates ordered by rank, then position.
struct MergeHeap {
    struct Candidate {
        var rank: Int, left: Int, right: Int, leftVersion: Int, rightVersion: Int
        func precedes(_ other: Candidate) -> Bool { (rank, left) < (other.rank, other.left) }
    }

    private var items: [Candidate] = []

    mutating func push(_ candidate: Candidate) {
        items.append(candidate)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Candidate? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count, items[left].precedes(items[smallest]) { smallest = left }
                if right < items.count, items[right].precedes(items[smallest]) { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}

/// Perceiver IO's tokenizer (transformers' PerceiverTokenizer): the UTF-8 bytes of the text, each id the byte plus 6,
/// after the six specials `[PAD] [BOS] [EOS] [MASK] [CLS] [SEP]`; framed `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`.
public struct PerceiverByteTokenizer: Tokenizer {
    public let name = "PerceiverTokenizer"
    public static let specials = ["[PAD]", "[BOS]", "[EOS]", "[MASK]", "[CLS]", "[SEP]"]
    public let addedTokens = AddedTokens(specials.map { AddedToken($0) })
    public let template: SpecialTokensTemplate
    public let maxLength: Int?
    public let padId = 0
    public let unknownId: Int? = nil
    public var vocabularySize: Int { 262 }
    public var truncation: Truncation { .python }
    /// PerceiverTokenizer's `model_input_names` are `input_ids` and `attention_mask`.
    public var returnsTokenTypeIds: Bool { false }

    public init(maxLength: Int? = 2048) {
        self.maxLength = maxLength
        self.template = SpecialTokensTemplate(prefix: [4], firstSuffix: [5], pairSuffix: [5], pairTypeId: 0)
    }

    public func pieces(of segment: String, first: Bool) -> [String] {
        segment.utf8.map { String(Unicode.Scalar($0)) }
    }

    public func id(of token: String) -> Int? {
        if let special = Self.specials.firstIndex(of: token) { return special }
        let scalars = token.unicodeScalars
        guard scalars.count == 1, let scalar = scalars.first, scalar.value < 256 else { return nil }
        return Int(scalar.value) + 6
    }

    public func token(of id: Int) -> String? {
        if (0..<6).contains(id) { return Self.specials[id] }
        guard (6..<262).contains(id) else { return nil }
        return String(Unicode.Scalar(UInt8(id - 6)))
    }
}
