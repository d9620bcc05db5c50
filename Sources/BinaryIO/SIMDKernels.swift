import CSystemShims

/// Moves rows `band` of the row-major `rows × totalColumns` matrix of 4-byte elements in `source`, its columns
/// `columns` only, to their transposed places in `destination`, which holds output rows `columns` of the
/// `totalColumns × rows` transpose: element (r, c) lands at `(c − columns.lowerBound) · rows + r`. 8 × 8 blocks in
/// vector registers (`modelport_transpose32`); the bytes are moved, never interpreted, so NaN payloads stay as they are.
/// - Precondition: `source` holds `rows · totalColumns` elements, `destination` `columns.count · rows`, `band` lies in
///   `0..<rows` and `columns` in `0..<totalColumns`.
package func transposeWords(_ source: UnsafeRawBufferPointer, columns: Range<Int>, totalColumns: Int,
                            into destination: UnsafeMutableRawBufferPointer, rows: Int, band: Range<Int>) {
    let (count, overflow) = rows.multipliedReportingOverflow(by: totalColumns)
    precondition(!overflow && source.count >= count * 4 && destination.count >= columns.count * rows * 4
                 && band.lowerBound >= 0 && band.upperBound <= rows
                 && columns.lowerBound >= 0 && columns.upperBound <= totalColumns, "transpose outside its buffers")
    guard !columns.isEmpty, !band.isEmpty, let from = source.baseAddress, let to = destination.baseAddress else { return }
    modelport_transpose32(from + columns.lowerBound * 4, totalColumns, to, rows, columns.count, band.lowerBound, band.upperBound)
}

/// Advances the zip CRC-32 register `state` (zlib's inverted running value) over the longest prefix of `bytes` that
/// is whole 16-byte blocks, by carry-less multiplication when the processor has it (`modelport_crc32_folded`), and
/// returns that prefix's length: 0 when it cannot, and the caller checksums the rest with zlib.
package func foldZipCRC32(_ state: inout UInt32, _ bytes: UnsafeRawBufferPointer) -> Int {
    guard let base = bytes.baseAddress else { return 0 }
    return modelport_crc32_folded(&state, base, bytes.count)
}
