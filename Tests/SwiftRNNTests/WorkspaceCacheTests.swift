#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import SwiftRNN

/// The block cache behind `Workspace`: freed large blocks come back for the same size, small ones
/// never stay, and the cache never holds more than its bounds.
@Suite struct WorkspaceCacheTests {
    @Test func aFreedBlockIsReusedForTheSameSizeOnly() {
        let cache = BlockCache(maxBlocks: 4, maxBytes: 1 << 24)
        let bytes = 256 * 1024
        let p = malloc(bytes)!
        cache.give(p, bytes: bytes)
        #expect(cache.contents.blocks == 1 && cache.contents.bytes == bytes)
        #expect(cache.take(bytes: bytes + 4) == nil)
        #expect(cache.take(bytes: bytes) == p)
        #expect(cache.take(bytes: bytes) == nil)
        #expect(cache.contents.blocks == 0)
        free(p)
    }

    @Test func smallBlocksAreFreedNotKept() {
        let cache = BlockCache(maxBlocks: 4, maxBytes: 1 << 24)
        cache.give(malloc(1024)!, bytes: 1024)
        #expect(cache.contents.blocks == 0)
        #expect(cache.take(bytes: 1024) == nil)
    }

    @Test func theOldestBlocksAreEvictedAtTheBounds() {
        let bytes = 1 << 20
        let cache = BlockCache(maxBlocks: 3, maxBytes: 16 << 20)
        let blocks = (0..<5).map { _ in malloc(bytes)! }
        for b in blocks { cache.give(b, bytes: bytes) }
        #expect(cache.contents.blocks == 3)
        // Newest first: the last three given.
        #expect(cache.take(bytes: bytes) == blocks[4])
        #expect(cache.take(bytes: bytes) == blocks[3])
        #expect(cache.take(bytes: bytes) == blocks[2])
        for b in blocks[2...] { free(b) }

        let byBytes = BlockCache(maxBlocks: 16, maxBytes: 4 << 20)  // blocks up to 1 MB, 4 MB in all
        for _ in 0..<6 { byBytes.give(malloc(bytes)!, bytes: bytes) }
        #expect(byBytes.contents.bytes <= 4 << 20)
        byBytes.give(malloc(2 << 20)!, bytes: 2 << 20)  // above maxBytes / 4: freed, not kept
        #expect(byBytes.contents.bytes <= 4 << 20)
        while let p = byBytes.take(bytes: bytes) { free(p) }
    }

    @Test func workspacesReturnTheirBlocks() throws {
        let count = 200_000
        let first: UnsafeMutablePointer<Float>
        do {
            let w = try Workspace(count: count, what: "test")
            first = w.pointer
            w.pointer.update(repeating: 1, count: count)
        }
        let again = try Workspace(count: count, what: "test")
        // Another thread's workspace of the same size may have taken it meanwhile; usually it is ours.
        _ = again.pointer == first
        again.pointer.update(repeating: 2, count: count)
        #expect(again.pointer[count - 1] == 2)
    }
}
