import Synchronization

/// Large temporary buffers kept for reuse: a pass that needs one per tensor (the pieces a record check reads, a strip
/// of transposed output, a piece of a cast) gets the same memory each time instead of fresh pages that the kernel must
/// fault in and zero.
///
/// At most `kept` buffers of at most `keptBytes` each stay allocated between uses, so what the pool holds on to is
/// bounded whatever the model; larger buffers are allocated and freed per use. Threads that ask at once get
/// different buffers.
package enum Scratch {
    /// The largest buffer kept after use.
    package static let keptBytes = 16 << 20
    /// How many buffers are kept after use (two passes may nest: a cast of a transposed tensor, say).
    static let kept = 2

    /// A free buffer, held as its address so the pool is `Sendable` (only one user at a time owns it).
    struct Block: Sendable {
        let address: UInt
        let count: Int
        let mapped: Bool

        /// `bytes` bytes, 64-byte aligned: a private anonymous mapping of their own from 1 MB on, so that a buffer
        /// the pool does not keep goes back to the system when freed. From the C heap it might not: glibc raises its
        /// mapping threshold to the largest block freed (up to 32 MB) and serves later blocks from a heap that keeps
        /// freed memory resident, so buffers of changing sizes would pile up there.
        init(bytes: Int) {
            if bytes >= 1 << 20, let address = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
               address != MAP_FAILED {
                #if os(Linux)
                // Huge pages where the system gives them on request: fewer faults and address-cache entries for a
                // buffer that is filled and read whole (a hint; errors ignored).
                _ = madvise(address, bytes, Int32(MADV_HUGEPAGE))
                #endif
                (self.address, count, mapped) = (UInt(bitPattern: address), bytes, true)
            } else {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
                (address, count, mapped) = (UInt(bitPattern: buffer.baseAddress), bytes, false)
            }
        }

        var buffer: UnsafeMutableRawBufferPointer {
            UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: address), count: count)
        }

        func release() {
            if mapped { munmap(UnsafeMutableRawPointer(bitPattern: address), count) } else { buffer.deallocate() }
        }
    }

    private static let pool = Mutex<[Block]>([])

    /// Lends `body` a buffer of exactly `bytes` bytes (64-byte aligned, contents undefined), reused from earlier calls
    /// when one large enough is free.
    /// - Precondition: `bytes >= 0`.
    package static func withBuffer<R>(bytes: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        precondition(bytes >= 0, "scratch buffer of \(bytes) bytes")
        let block = take(bytes: bytes)
        defer { giveBack(block) }
        return try body(UnsafeMutableRawBufferPointer(rebasing: block.buffer[0..<bytes]))
    }

    /// A buffer of at least `bytes` bytes for the caller to own until `giveBack`: the smallest free one that is large
    /// enough, else a new one.
    static func take(bytes: Int) -> Block {
        pool.withLock { blocks -> Block? in
            guard let index = blocks.indices.filter({ blocks[$0].count >= bytes }).min(by: { blocks[$0].count < blocks[$1].count })
            else { return nil }
            return blocks.remove(at: index)
        } ?? Block(bytes: bytes)
    }

    /// Keeps `block` for later if it is small enough, dropping the smallest kept one when the pool is full.
    static func giveBack(_ block: Block) {
        let dropped: Block? = pool.withLock { blocks in
            guard block.count <= keptBytes else { return block }
            blocks.append(block)
            guard blocks.count > kept, let smallest = blocks.indices.min(by: { blocks[$0].count < blocks[$1].count })
            else { return nil }
            return blocks.remove(at: smallest)
        }
        dropped?.release()
    }
}
