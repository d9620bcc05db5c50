import CSystemShims

/// Moves rows `rowRange` of the row-major `rows × columns` matrix of 4-byte elements in `source` to their transposed
/// places in `destination` (`columns × rows`): element (r, c) lands at `c · rows + r`. 8 × 8 blocks in vector
/// registers (`modelport_transpose32`); the bytes are moved, never interpreted, so NaN payloads stay as they are.
/// - Precondition: both buffers hold `rows · columns` elements and `rowRange` lies in `0..<rows`.
package func transposeWords(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                            rows: Int, columns: Int, rowRange: Range<Int>) {
    let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
    precondition(!overflow && source.count >= count * 4 && destination.count >= count * 4
                 && rowRange.lowerBound >= 0 && rowRange.upperBound <= rows, "transpose outside its buffers")
    guard count > 0, let from = source.baseAddress, let to = destination.baseAddress else { return }
    modelport_transpose32(from, to, rows, columns, rowRange.lowerBound, rowRange.upperBound)
}

/// Advances the zip CRC-32 register `state` (zlib's inverted running value) over the longest prefix of `bytes` that
/// is whole 16-byte blocks, by carry-less multiplication when the processor has it (`modelport_crc32_folded`), and
/// returns that prefix's length: 0 when it cannot, and the caller checksums the rest with zlib.
package func foldZipCRC32(_ state: inout UInt32, _ bytes: UnsafeRawBufferPointer) -> Int {
    guard let base = bytes.baseAddress else { return 0 }
    return modelport_crc32_folded(&state, base, bytes.count)
}
