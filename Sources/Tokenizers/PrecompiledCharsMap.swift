/// SentencePiece's compiled normalization rules (`NormalizerSpec.precompiled_charsmap`, e.g. `nmt_nfkc`): a
/// darts-clone double-array trie over UTF-8 byte strings whose values are offsets of NUL-terminated replacements
/// in a string blob. Layout: `u32` little-endian trie size in bytes, the trie's `u32` units, then the blob
/// (sentencepiece src/normalizer.cc, `Normalizer::DecodePrecompiledCharsMap`).
///
/// Applied as Hugging Face `tokenizers`' Precompiled normalizer does (the one transformers 5 runs): text in extended
/// grapheme clusters; a cluster shorter than 6 bytes whose bytes start with a key is replaced whole by that key's
/// replacement (the shortest key found); otherwise each character is looked up on its own and kept when it has
/// no replacement.
public struct PrecompiledCharsMap: Sendable {
    let units: [UInt32]
    let blob: [UInt8]

    public init(_ bytes: [UInt8], file: String? = nil) throws {
        guard bytes.count >= 4 else { throw TokenizerError(.malformed, file: file, "precompiled_charsmap is \(bytes.count) bytes, shorter than its 4-byte header") }
        let size = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        guard size % 4 == 0, size <= bytes.count - 4 else {
            throw TokenizerError(.malformed, file: file, "precompiled_charsmap: trie size \(size) is not a multiple of 4 within the \(bytes.count - 4) bytes that follow")
        }
        var units: [UInt32] = []
        units.reserveCapacity(size / 4)
        var i = 4
        while i < 4 + size {
            units.append(UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            i += 4
        }
        guard !units.isEmpty else { throw TokenizerError(.malformed, file: file, "precompiled_charsmap: the trie is empty") }
        let blob = Array(bytes[(4 + size)...])
        guard String(validating: blob, as: UTF8.self) != nil else {
            throw TokenizerError(.malformed, file: file, "precompiled_charsmap: the replacement strings are not UTF-8")
        }
        self.units = units
        self.blob = blob
    }

    /// The replacement of the shortest key that `key` starts with, if any (darts-clone `commonPrefixSearch`,
    /// first result). Out-of-range trie positions end the search.
    func replacement(_ key: some Collection<UInt8>) -> [UInt8]? {
        func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }
        var position = offset(units[0])
        for byte in key {
            if byte == 0 { return nil }
            position ^= Int(byte)
            guard position >= 0, position < units.count else { return nil }
            let unit = units[position]
            guard unit & ((1 << 31) | 0xFF) == UInt32(byte) else { return nil }
            position ^= offset(unit)
            guard position >= 0, position < units.count else { return nil }
            if (unit >> 8) & 1 == 1 {
                let start = Int(units[position] & ((1 << 31) - 1))
                guard start < blob.count else { return nil }
                var end = start
                while end < blob.count, blob[end] != 0 { end += 1 }
                return Array(blob[start..<end])
            }
        }
        return nil
    }

    /// The normalized text.
    public func normalize(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for grapheme in text {
            let bytes = Array(grapheme.utf8)
            if bytes.count < 6, let replaced = replacement(bytes) {
                out += replaced
                continue
            }
            for scalar in grapheme.unicodeScalars {
                let scalarBytes = Array(String(scalar).utf8)
                out += replacement(scalarBytes) ?? scalarBytes
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
