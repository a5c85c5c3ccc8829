import Foundation
import XCTest
@testable import Benchmarks

final class LongBenchProtocolTests: XCTestCase {
    private var temporaryDirectory: URL!

    override func setUpWithError() throws {
        temporaryDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("longbench-protocol-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: temporaryDirectory)
    }

    private func touch(_ names: [String]) throws {
        for name in names {
            try Data().write(to: temporaryDirectory.appendingPathComponent(name + ".jsonl"))
        }
    }

    // MARK: Datasets

    func testDefaultDatasetsSkipAbsentFiles() throws {
        try touch(["samsum", "hotpotqa", "lsht"])
        let selection = try LongBenchProtocol.selectDatasets(nil, dataDirectory: temporaryDirectory.path)
        XCTAssertEqual(selection.datasets, ["hotpotqa", "samsum"])
        XCTAssertEqual(selection.skipped.count, 14)
        XCTAssertTrue(selection.skipped.contains("trec"))
    }

    func testDefaultDatasetsNeedOneFile() {
        XCTAssertThrowsError(try LongBenchProtocol.selectDatasets("", dataDirectory: temporaryDirectory.path)) { error in
            guard case .fileNotFound = error as? BenchmarkError else { return XCTFail("got \(error)") }
        }
    }

    func testNamedDatasetsKeepOrder() throws {
        try touch(["samsum", "hotpotqa", "lsht"])
        let selection = try LongBenchProtocol.selectDatasets("samsum, lsht,hotpotqa,samsum", dataDirectory: temporaryDirectory.path)
        XCTAssertEqual(selection.datasets, ["samsum", "lsht", "hotpotqa"])
        XCTAssertEqual(selection.skipped, [])
    }

    func testUnknownDatasetRejected() throws {
        try touch(["hotpotqa"])
        XCTAssertThrowsError(try LongBenchProtocol.selectDatasets("hotpotqa,hotpot_qa", dataDirectory: temporaryDirectory.path)) { error in
            XCTAssertEqual(error as? BenchmarkError, .unknownDataset(name: "hotpot_qa", known: LongBenchProtocol.runnableDatasets))
        }
    }

    func testChineseDatasetWithoutMetricRejected() throws {
        try touch(["dureader"])
        XCTAssertThrowsError(try LongBenchProtocol.selectDatasets("dureader", dataDirectory: temporaryDirectory.path)) { error in
            guard case .unknownDataset(let name, _) = error as? BenchmarkError else { return XCTFail("got \(error)") }
            XCTAssertEqual(name, "dureader")
        }
    }

    func testNamedDatasetWithoutFileRejected() throws {
        try touch(["hotpotqa"])
        XCTAssertThrowsError(try LongBenchProtocol.selectDatasets("hotpotqa,trec", dataDirectory: temporaryDirectory.path)) { error in
            guard case .fileNotFound(let path, _) = error as? BenchmarkError else { return XCTFail("got \(error)") }
            XCTAssertTrue(path.hasSuffix("/trec.jsonl"), path)
        }
    }

    // MARK: Examples

    func testTopkTakesFirstExamples() {
        var generator = PythonRandom(seed: 42)
        XCTAssertEqual(LongBenchProtocol.selectExamples(count: 200, maxNumExamples: 3, method: .topk, generator: &generator), [0, 1, 2])
    }

    func testAllExamplesWithoutLimit() {
        var generator = PythonRandom(seed: 42)
        XCTAssertEqual(LongBenchProtocol.selectExamples(count: 4, maxNumExamples: nil, method: .random, generator: &generator), [0, 1, 2, 3])
        XCTAssertEqual(LongBenchProtocol.selectExamples(count: 4, maxNumExamples: 4, method: .random, generator: &generator), [0, 1, 2, 3])
    }

    func testRandomDrawsOnlyWhenLimited() {
        // CPython: random.seed(42); random.sample(range(200), 3) == [163, 28, 6], and the first call
        // on a full dataset must not consume draws.
        var generator = PythonRandom(seed: 42)
        _ = LongBenchProtocol.selectExamples(count: 3, maxNumExamples: 3, method: .random, generator: &generator)
        let picked = LongBenchProtocol.selectExamples(count: 200, maxNumExamples: 3, method: .random, generator: &generator)
        XCTAssertEqual(picked, [163, 28, 6])
    }

    // MARK: Model family

    func testDefaultMaxLengthPerFamily() {
        XCTAssertEqual(LongBenchProtocol.defaultMaxLength(names: ["Llama-2-7b-chat.Q4_0.gguf"], contextLength: 4096).length, 3950)
        XCTAssertEqual(LongBenchProtocol.defaultMaxLength(names: ["x.gguf", "Meta Llama3 8B"], contextLength: 8192).length, 7500)
        XCTAssertEqual(LongBenchProtocol.defaultMaxLength(names: ["Meta-Llama-3.1-8B.gguf"], contextLength: 131_072).length, 130_380)
        XCTAssertEqual(LongBenchProtocol.defaultMaxLength(names: ["mistral-7b-instruct-v0.2.gguf"], contextLength: 32768).length, 31500)
        XCTAssertEqual(LongBenchProtocol.defaultMaxLength(names: ["SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2"], contextLength: 8192).length, 7500)
        XCTAssertEqual(LongBenchProtocol.defaultMaxLength(names: ["qwen2.5-0.5b.gguf"], contextLength: 32768).length, 32076)
    }

    func testDefaultMaxLengthNamesRule() {
        let choice = LongBenchProtocol.defaultMaxLength(names: ["smollm2"], contextLength: 8192)
        XCTAssertEqual(choice.rule, "context length 8192 - 692")
    }

    // MARK: Chat template and stop tokens

    func testChatTemplateSkipsRawPromptDatasets() {
        XCTAssertTrue(LongBenchProtocol.usesChatTemplate(dataset: "hotpotqa", mode: .auto, modelHasTemplate: true))
        XCTAssertFalse(LongBenchProtocol.usesChatTemplate(dataset: "samsum", mode: .auto, modelHasTemplate: true))
        XCTAssertFalse(LongBenchProtocol.usesChatTemplate(dataset: "lcc", mode: .auto, modelHasTemplate: true))
        XCTAssertFalse(LongBenchProtocol.usesChatTemplate(dataset: "hotpotqa", mode: .none, modelHasTemplate: true))
        XCTAssertFalse(LongBenchProtocol.usesChatTemplate(dataset: "hotpotqa", mode: .auto, modelHasTemplate: false))
    }

    func testSamsumStopsAtNewline() throws {
        let tokenizer = try LongBenchFixtures.tokenizer()
        let newline = try XCTUnwrap(tokenizer.encode("\n", addSpecialTokens: false, parseSpecial: false).last)
        let samsum = LongBenchProtocol.stopTokens(dataset: "samsum", tokenizer: tokenizer)
        let hotpot = LongBenchProtocol.stopTokens(dataset: "hotpotqa", tokenizer: tokenizer)
        XCTAssertTrue(samsum.contains(newline))
        XCTAssertFalse(hotpot.contains(newline))
        XCTAssertEqual(samsum.subtracting([newline]), hotpot)
        XCTAssertTrue(hotpot.isSuperset(of: tokenizer.stopTokenIds))
    }

    // MARK: Truncation

    private struct TruncationCase: Decodable {
        var dataset: String
        var index: Int
        var max_length: Int
        var prompt_tokens: Int
        var prompt_ids_checksum: Int
        var truncated_scalars: Int
        var truncated_utf8_fnv1a64: String
        var truncated_tokens: Int
        var truncated_ids_checksum: Int
    }

    private struct TruncationFixture: Decodable {
        var cases: [TruncationCase]
    }

    func testTruncationMatchesTransformers() throws {
        let tokenizer = try LongBenchFixtures.tokenizer()
        let dataDirectory = try LongBenchFixtures.requireData()
        let config = try LongBenchConfig.load(dataDirectory: dataDirectory)
        let fixture = try LongBenchFixtures.load(TruncationFixture.self, "truncation.json")
        for entry in fixture.cases {
            let path = LongBenchDataset.path(dataset: entry.dataset, dataDirectory: dataDirectory)
            guard FileManager.default.fileExists(atPath: path) else {
                print("skipping truncation case of \(entry.dataset): \(path) is absent")
                continue
            }
            let record = try LongBenchDataset.load(path: path)[entry.index]
            let built = try LongBenchProtocol.buildPrompt(record: record, config: config, tokenizer: tokenizer,
                                                          maxLength: entry.max_length, chatTemplate: nil)
            let truncatedText = LongBenchProtocol.middleTruncate(
                tokenizer.encode(built.prompt, addSpecialTokens: true, parseSpecial: true), maxLength: entry.max_length, tokenizer: tokenizer)
            let label = "\(entry.dataset)[\(entry.index)] at \(entry.max_length)"

            XCTAssertEqual(built.originalTokenCount, entry.prompt_tokens, label)
            XCTAssertTrue(built.truncated, label)
            XCTAssertEqual(truncatedText.unicodeScalars.count, entry.truncated_scalars, label)
            XCTAssertEqual(String(LongBenchFixtures.fnv1a64(truncatedText.utf8)), entry.truncated_utf8_fnv1a64, label)
            XCTAssertEqual(built.tokens.count, entry.truncated_tokens, label)
            XCTAssertEqual(LongBenchFixtures.idChecksum(built.tokens), entry.truncated_ids_checksum, label)
        }
    }

    func testShortPromptKeepsTokens() throws {
        let tokenizer = try LongBenchFixtures.tokenizer()
        let config = LongBenchConfig(promptTemplates: ["hotpotqa": "Passages: {context}\nQuestion: {input}\nAnswer:"],
                                     maxNewTokens: ["hotpotqa": 32], promptPath: "p", maxLengthPath: "m")
        let record = LongBenchRecord(input: "Who?", context: "Ada wrote it.", answers: ["Ada"], length: 3,
                                     dataset: "hotpotqa", language: "en", allClasses: nil, id: "a")
        let built = try LongBenchProtocol.buildPrompt(record: record, config: config, tokenizer: tokenizer, maxLength: 100, chatTemplate: nil)
        XCTAssertEqual(built.prompt, "Passages: Ada wrote it.\nQuestion: Who?\nAnswer:")
        XCTAssertEqual(built.tokens, tokenizer.encode(built.prompt, addSpecialTokens: true, parseSpecial: true))
        XCTAssertFalse(built.truncated)
        XCTAssertFalse(built.chatTemplateApplied)
    }

    func testChatWrapAppliesAfterTruncation() throws {
        let tokenizer = try LongBenchFixtures.tokenizer()
        let config = LongBenchConfig(promptTemplates: ["hotpotqa": "{context} {input}"], maxNewTokens: ["hotpotqa": 32],
                                     promptPath: "p", maxLengthPath: "m")
        let context = (1...200).map { "word\($0)" }.joined(separator: " ")
        let record = LongBenchRecord(input: "end", context: context, answers: ["x"], length: 200,
                                     dataset: "hotpotqa", language: "en", allClasses: nil, id: "a")
        var wrapped: [String] = []
        let built = try LongBenchProtocol.buildPrompt(record: record, config: config, tokenizer: tokenizer, maxLength: 40) { text in
            wrapped.append(text)
            return "<|im_start|>user\n" + text + "<|im_end|>\n<|im_start|>assistant\n"
        }
        let imStart = try XCTUnwrap(tokenizer.tokenId("<|im_start|>"))

        XCTAssertEqual(wrapped.count, 1)
        XCTAssertTrue(wrapped[0].hasPrefix("word1 word2"), wrapped[0])
        XCTAssertTrue(wrapped[0].hasSuffix("word200 end"), wrapped[0])
        XCTAssertFalse(wrapped[0].contains("word100 "), wrapped[0])
        XCTAssertEqual(built.prompt, context + " end")
        XCTAssertTrue(built.truncated)
        XCTAssertTrue(built.chatTemplateApplied)
        XCTAssertEqual(built.tokens.first, imStart)
        XCTAssertEqual(built.tokens.filter { $0 == imStart }.count, 2)
    }
}
