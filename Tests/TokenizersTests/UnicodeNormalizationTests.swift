@testable import Tokenizers
import Testing

/// The normalization forms the tokenizers' normalizers use, now from ICU rather than Foundation on Linux: examples
/// from Unicode Standard Annex #15 (figures 3–6) and the Unicode Character Database's decomposition mappings.
@Suite struct UnicodeNormalizationTests {
    @Test(arguments: [
        // (input, form, expected): canonical equivalents compose and decompose; compatibility ones only under NFK*.
        ("e\u{301}", UnicodeNormalizationForm.nfc, "\u{E9}"),
        ("\u{E9}", .nfd, "e\u{301}"),
        ("\u{212B}", .nfd, "A\u{30A}"),  // ANGSTROM SIGN → A + COMBINING RING ABOVE
        ("\u{212B}", .nfc, "\u{C5}"),
        ("\u{FB01}", .nfc, "\u{FB01}"),  // LATIN SMALL LIGATURE FI: a compatibility decomposition only
        ("\u{FB01}", .nfkc, "fi"),
        ("\u{2460}", .nfkd, "1"),  // CIRCLED DIGIT ONE
        ("\u{1E9B}\u{323}", .nfkc, "\u{1E69}"),  // UAX #15 figure 6: ẛ̣ → ṩ
        ("\u{1E9B}\u{323}", .nfd, "\u{17F}\u{323}\u{307}"),
        ("\u{FF76}\u{FF9E}", .nfkc, "\u{30AC}"),  // halfwidth KA + voiced mark → GA
        ("plain ascii", .nfkd, "plain ascii"),
    ])
    func normalizesAsUAX15Says(input: String, form: UnicodeNormalizationForm, expected: String) {
        let result = input.normalized(form)
        #expect(Array(result.unicodeScalars) == Array(expected.unicodeScalars))
    }

    @Test func aLongStringThatGrowsPastTheFirstBufferIsComplete() {
        // U+FDFA (ARABIC LIGATURE SALLALLAHOU ALAYHE WASALLAM) decomposes into 18 characters under NFKD.
        let input = String(repeating: "\u{FDFA}", count: 100)
        let result = input.normalized(.nfkd)
        #expect(result.unicodeScalars.count == 1800)
    }
}
