import Benchmarks
import Foundation
import ModelFormats
import Tokenization
import XCTest

/// The needle grid, the haystack reader and the context builder, with the SmolLM2 tokenizer and the
/// essays that scripts/setup.sh installs.
final class NeedleHaystackTests: XCTestCase {
    private static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private static let modelPath = repositoryRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    private static let essaysDirectory = repositoryRoot.appendingPathComponent("data/PaulGrahamEssays").path
    private static let loadedTokenizer = Result(catching: { try Tokenizer(gguf: GGUFFile(path: modelPath)) })

    private var temporaryDirectory: URL!

    override func setUpWithError() throws {
        temporaryDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("needle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: temporaryDirectory)
    }

    private func tokenizer() throws -> Tokenizer {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.modelPath), "run scripts/setup.sh to install the model")
        return try Self.loadedTokenizer.get()
    }

    private func essays() throws -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Self.essaysDirectory)) ?? []
        try XCTSkipIf(files.isEmpty, "no essays in \(Self.essaysDirectory); run scripts/setup.sh")
        return Self.essaysDirectory
    }

    private func builder(minimumTokens: Int = 1100) throws -> NeedleContextBuilder {
        let tokenizer = try tokenizer()
        let haystack = try NeedleHaystack(directory: try essays(), tokenizer: tokenizer, minimumTokens: minimumTokens)
        return try NeedleContextBuilder(haystackTokens: haystack.tokens, tokenizer: tokenizer,
                                        needle: NeedleTask.defaultTask.needle)
    }

    // MARK: Grid

    func testDepthsFiveIntervals() throws {
        XCTAssertEqual(try NeedleGrid.depths(intervals: 5), [0, 25, 50, 75, 100])
    }

    func testDepthsTenIntervalsRoundLikeNumPy() throws {
        XCTAssertEqual(try NeedleGrid.depths(intervals: 10), [0, 11, 22, 33, 44, 56, 67, 78, 89, 100])
    }

    func testDepthsOneInterval() throws {
        XCTAssertEqual(try NeedleGrid.depths(intervals: 1), [0])
    }

    func testDepthsZeroIntervalsRejected() {
        XCTAssertThrowsError(try NeedleGrid.depths(intervals: 0)) { error in
            XCTAssertEqual(error as? NeedleError, .invalidDepthIntervals(0))
        }
    }

    func testLengthsIncludeEnd() throws {
        XCTAssertEqual(try NeedleGrid.lengths(start: 1000, end: 4000, step: 1000), [1000, 2000, 3000, 4000])
    }

    func testLengthsStopBelowEnd() throws {
        XCTAssertEqual(try NeedleGrid.lengths(start: 1000, end: 3500, step: 1000), [1000, 2000, 3000])
    }

    func testLengthsStartAboveEndRejected() {
        XCTAssertThrowsError(try NeedleGrid.lengths(start: 2000, end: 1000, step: 100)) { error in
            XCTAssertTrue(String(describing: error).contains("--s_len is above --e_len"), "\(error)")
        }
    }

    func testLengthsZeroStepRejected() {
        XCTAssertThrowsError(try NeedleGrid.lengths(start: 1000, end: 2000, step: 0))
    }

    // MARK: Haystack

    func testMissingHaystackRejected() {
        let path = temporaryDirectory.appendingPathComponent("absent").path
        XCTAssertThrowsError(try NeedleHaystack.essayFiles(directory: path)) { error in
            XCTAssertEqual(error as? NeedleError, .haystackNotFound(path: path))
        }
    }

    func testHaystackWithoutTextFilesRejected() throws {
        try Data("not an essay".utf8).write(to: temporaryDirectory.appendingPathComponent("notes.md"))
        XCTAssertThrowsError(try NeedleHaystack.essayFiles(directory: temporaryDirectory.path)) { error in
            XCTAssertEqual(error as? NeedleError, .haystackEmpty(path: self.temporaryDirectory.path))
        }
    }

    func testHaystackOfEmptyFilesRejected() throws {
        let tokenizer = try tokenizer()
        try Data().write(to: temporaryDirectory.appendingPathComponent("a.txt"))
        XCTAssertThrowsError(try NeedleHaystack(directory: temporaryDirectory.path, tokenizer: tokenizer, minimumTokens: 10)) { error in
            XCTAssertEqual(error as? NeedleError, .haystackEmpty(path: self.temporaryDirectory.path))
        }
    }

    func testHaystackNotUTF8Rejected() throws {
        let tokenizer = try tokenizer()
        let file = temporaryDirectory.appendingPathComponent("a.txt")
        try Data([0x66, 0xFF, 0xFE]).write(to: file)
        XCTAssertThrowsError(try NeedleHaystack(directory: temporaryDirectory.path, tokenizer: tokenizer, minimumTokens: 10)) { error in
            XCTAssertEqual(error as? NeedleError, .haystackUnreadable(path: file.path, reason: "not valid UTF-8"))
        }
    }

    func testHaystackSortedAndRepeated() throws {
        let tokenizer = try tokenizer()
        try Data("Second file. ".utf8).write(to: temporaryDirectory.appendingPathComponent("b.txt"))
        try Data("First file. ".utf8).write(to: temporaryDirectory.appendingPathComponent("a.txt"))
        let haystack = try NeedleHaystack(directory: temporaryDirectory.path, tokenizer: tokenizer, minimumTokens: 20)
        XCTAssertEqual(Array(haystack.fileNames.prefix(4)), ["a.txt", "b.txt", "a.txt", "b.txt"])
        XCTAssertGreaterThanOrEqual(haystack.tokens.count, 20)
        XCTAssertTrue(tokenizer.decode(haystack.tokens).hasPrefix("First file. Second file. First file."))
    }

    func testHaystackStopsOnceLongEnough() throws {
        let tokenizer = try tokenizer()
        let haystack = try NeedleHaystack(directory: try essays(), tokenizer: tokenizer, minimumTokens: 1000)
        XCTAssertGreaterThanOrEqual(haystack.tokens.count, 1000)
        let withoutLast = haystack.fileNames.dropLast().map {
            (try? String(contentsOfFile: Self.essaysDirectory + "/" + $0, encoding: .utf8)) ?? ""
        }.joined()
        XCTAssertLessThan(tokenizer.encode(withoutLast, addSpecialTokens: false, parseSpecial: false).count, 1000)
    }

    // MARK: Context

    func testContextFillsLengthMinusBuffer() throws {
        let builder = try builder()
        let context = try builder.context(length: 1000, depthPercent: 50)
        XCTAssertEqual(context.tokens.count, 1000 - builder.bufferTokens)
    }

    func testNeedleInsertedAfterSentenceEnd() throws {
        let builder = try builder()
        let context = try builder.context(length: 1000, depthPercent: 50)
        let needleRange = context.insertionIndex..<(context.insertionIndex + builder.needleTokens.count)
        XCTAssertEqual(Array(context.tokens[needleRange]), builder.needleTokens)
        XCTAssertGreaterThan(context.insertionIndex, 0)
        XCTAssertTrue(builder.endsSentence(context.tokens[context.insertionIndex - 1]))
        let haystackCount = context.tokens.count - builder.needleTokens.count
        XCTAssertLessThanOrEqual(context.insertionIndex, haystackCount / 2)
    }

    func testNoSentenceEndBetweenInsertionAndTarget() throws {
        let builder = try builder()
        let context = try builder.context(length: 1000, depthPercent: 50)
        let haystackCount = context.tokens.count - builder.needleTokens.count
        let target = Int(Double(haystackCount) * 0.5)
        let after = Array(context.tokens[(context.insertionIndex + builder.needleTokens.count)...])
        // The search moved back from the target over tokens that do not end a sentence.
        let skipped = after.prefix(target - context.insertionIndex)
        XCTAssertFalse(skipped.contains(where: builder.endsSentence))
    }

    func testDepthZeroStartsWithNeedle() throws {
        let builder = try builder()
        let context = try builder.context(length: 1000, depthPercent: 0)
        XCTAssertEqual(context.insertionIndex, 0)
        XCTAssertTrue(context.text.hasPrefix(NeedleTask.defaultTask.needle), String(context.text.prefix(80)))
    }

    func testDepthHundredEndsWithNeedle() throws {
        let builder = try builder()
        let context = try builder.context(length: 1000, depthPercent: 100)
        XCTAssertEqual(context.insertionIndex, context.tokens.count - builder.needleTokens.count)
        XCTAssertTrue(context.text.hasSuffix(NeedleTask.defaultTask.needle), String(context.text.suffix(80)))
    }

    func testContextTextContainsNeedleOnce() throws {
        let builder = try builder()
        let context = try builder.context(length: 1000, depthPercent: 75)
        XCTAssertEqual(context.text.components(separatedBy: "special magic number").count, 2)
    }

    func testLengthTooShortRejected() throws {
        let builder = try builder()
        XCTAssertThrowsError(try builder.context(length: builder.bufferTokens + builder.needleTokens.count, depthPercent: 50)) { error in
            XCTAssertEqual(error as? NeedleError,
                           .lengthTooShort(length: builder.bufferTokens + builder.needleTokens.count,
                                           minimum: builder.bufferTokens + builder.needleTokens.count))
        }
    }

    func testEmptyNeedleRejected() throws {
        let tokenizer = try tokenizer()
        XCTAssertThrowsError(try NeedleContextBuilder(haystackTokens: [1, 2, 3], tokenizer: tokenizer, needle: "")) { error in
            XCTAssertEqual(error as? NeedleError, .emptyNeedle)
        }
    }

    func testUserMessageFramesContext() {
        let message = NeedleTask.defaultTask.userMessage(context: "CONTEXT")
        XCTAssertTrue(message.contains("<document>\nCONTEXT\n</document>"), message)
        XCTAssertTrue(message.hasSuffix(NeedleTask.defaultTask.question), message)
    }
}
