#if canImport(Glibc)
import Glibc
#endif
import KVPolicies
import XCTest
@testable import Modeling

/// Counts heap allocations during decode steps. It needs a preloaded library that counts calls to
/// malloc, calloc, realloc, memalign, aligned_alloc and posix_memalign and exports the count as
/// `unsigned long kvfactory_allocation_count(void)`. Each wrapper increments a counter and calls glibc's
/// `__libc_malloc` (or `__libc_calloc`, `__libc_realloc`, `__libc_memalign`). Without it the test is skipped:
///
///     gcc -O2 -shared -fPIC count.c -o libcount.so
///     LD_PRELOAD=$PWD/libcount.so .build/release/KVCacheFactoryPackageTests.xctest ModelingTests.DecodeAllocationTests
final class DecodeAllocationTests: XCTestCase {
    typealias CountFunction = @convention(c) () -> UInt

    func allocationCounter() throws -> CountFunction {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "kvfactory_allocation_count") else {
            throw XCTSkip("preload a library exporting kvfactory_allocation_count to count allocations")
        }
        return unsafeBitCast(symbol, to: CountFunction.self)
    }

    func testDecodeWithoutPolicyAllocatesNothing() throws {
        let count = try allocationCounter()
        for name in ["tiny-mistral", "tiny-qwen2"] {
            let fixture = try Fixtures.tiny(name)
            for threads in [1, 2] {
                let model = try TransformerModel(path: fixture.modelPath, threads: threads)
                let cache = model.makeCache()
                cache.reserve(tokens: fixture.tokens.count)
                _ = try model.prefill(tokens: Array(fixture.tokens[..<10]), cache: cache, policy: nil)
                // The first step grows nothing either, but warm up the thread pool before counting.
                _ = try model.decode(token: fixture.tokens[10], cache: cache, policy: nil)
                let before = count()
                for position in 11..<fixture.tokens.count {
                    _ = try model.decode(token: fixture.tokens[position], cache: cache, policy: nil)
                }
                XCTAssertEqual(count() - before, 0, "\(name), \(threads) threads: allocations in \(fixture.tokens.count - 11) decode steps")
            }
        }
    }

    func testRealModelDecodeAllocatesNothing() throws {
        let count = try allocationCounter()
        let model = try TransformerModel(path: try Fixtures.requireRealModel(), threads: 2)
        let (golden, _) = try GoldenLogitsTests.golden("smollm2-chat")
        let cache = model.makeCache()
        cache.reserve(tokens: golden.tokens.count + 8)
        _ = try model.prefill(tokens: golden.tokens, cache: cache, policy: nil)
        _ = try model.decode(token: golden.greedy[0], cache: cache, policy: nil)
        let before = count()
        for token in golden.greedy[1..<6] {
            _ = try model.decode(token: token, cache: cache, policy: nil)
        }
        XCTAssertEqual(count() - before, 0, "allocations in 5 decode steps of the real model")
    }
}
