import Dispatch
import Foundation
import ModelFormats
import XCTest
@testable import Tokenization

/// Encoding speed on long contexts. Runs only when KVFACTORY_BENCHMARK is set, and makes sense only in a
/// release build: `KVFACTORY_BENCHMARK=1 swift test -c release -Xswiftc -enable-testing --filter TokenizerBenchmarkTests`.
final class TokenizerBenchmarkTests: XCTestCase {
    private func skipUnlessBenchmark() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["KVFACTORY_BENCHMARK"] != nil,
                          "set KVFACTORY_BENCHMARK=1 to run the tokenizer benchmark")
    }

    private func seconds(_ work: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        work()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Prints the time to encode the essays twice over (one string of about 1.3 MB), best of five runs.
    func testEncodeEssaysTwice() throws {
        try skipUnlessBenchmark()
        let essays = try TestResources.essays()
        let text = essays + essays
        let modelPath = TestResources.modelPath
        var tokenizer: Tokenizer?
        let loadSeconds = seconds {
            tokenizer = try? Tokenizer(gguf: GGUFFile(path: modelPath))
        }
        let smolLM2 = try XCTUnwrap(tokenizer)

        var ids: [Int] = []
        var best = Double.infinity
        for _ in 0..<5 {
            best = min(best, seconds { ids = smolLM2.encode(text) })
        }
        let decodeSeconds = seconds { _ = smolLM2.decode(ids) }
        print(String(format: "SmolLM2 encode of the essays twice over: %.3f s for %d bytes, %d tokens (%.1f MB/s); "
                     + "decode %.3f s; tokenizer load %.3f s",
                     best, text.utf8.count, ids.count, Double(text.utf8.count) / best / 1e6, decodeSeconds, loadSeconds))
        XCTAssertLessThan(best, 1.0, "encoding 1.3 MB must take well under a second in a release build")
    }

    /// Prints the same measurement for the Llama 3 and Llama 2 vocab files, when downloaded.
    func testEncodeEssaysTwiceVocabFiles() throws {
        try skipUnlessBenchmark()
        let essays = try TestResources.essays()
        let text = essays + essays
        for file in ["ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf", "ggml-vocab-llama-spm.gguf"] {
            let path = try TestResources.vocabFile(file)
            var tokenizer: Tokenizer?
            let loadSeconds = seconds { tokenizer = try? Tokenizer(gguf: GGUFFile(path: path)) }
            let loaded = try XCTUnwrap(tokenizer, file)
            var count = 0
            var best = Double.infinity
            for _ in 0..<3 {
                best = min(best, seconds { count = loaded.encode(text).count })
            }
            print(String(format: "%@ encode of the essays twice over: %.3f s, %d tokens; tokenizer load %.3f s",
                         file, best, count, loadSeconds))
        }
    }
}
