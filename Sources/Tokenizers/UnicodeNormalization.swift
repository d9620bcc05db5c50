#if canImport(Darwin)
import Foundation
#else
import CSystemShims
#endif

/// The Unicode normalization forms (Unicode Standard Annex #15) the tokenizers' normalizers use.
enum UnicodeNormalizationForm: Int32 {
    case nfc = 0, nfd, nfkc, nfkd
}

extension String {
    /// The string in normalization form `form`. On Linux it comes from ICU (CSystemShims' modelport_unicode_normalize,
    /// the toolchain's ICU loaded at first use) rather than from Foundation, whose libraries would otherwise be
    /// loaded at every start of modelport.
    func normalized(_ form: UnicodeNormalizationForm) -> String {
        #if canImport(Darwin)
        switch form {
        case .nfc: return precomposedStringWithCanonicalMapping
        case .nfd: return decomposedStringWithCanonicalMapping
        case .nfkc: return precomposedStringWithCompatibilityMapping
        case .nfkd: return decomposedStringWithCompatibilityMapping
        }
        #else
        if unicodeScalars.allSatisfy({ $0.isASCII }) { return self }  // ASCII is in every form already
        let source = Array(utf16)
        guard let length = Int32(exactly: source.count) else { preconditionFailure("a tokenizer input over 2^31 UTF-16 units") }
        // NFKD can expand one unit into up to 18 (UAX #15, "Stabilized Strings"); most text grows little.
        var capacity = source.count * 2 + 16
        while true {
            var result = [UInt16](repeating: 0, count: capacity)
            let written = Int(modelport_unicode_normalize(form.rawValue, source, length, &result, Int32(clamping: capacity)))
            guard written >= 0 else {
                // The toolchain ships this ICU next to libswiftCore: without it the Swift runtime itself is incomplete.
                fatalError("modelport: \(String(cString: modelport_unicode_error()))")
            }
            if written <= capacity { return String(decoding: result[..<written], as: UTF16.self) }
            capacity = written
        }
        #endif
    }
}
