@testable import Cluster
import Foundation
import XCTest

final class ResultJournalTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var url: URL { directory.appendingPathComponent("results.jsonl") }

    private struct Record: Codable, Equatable {
        let id: String
        let score: Double?
        let error: String?
    }

    func testAppendThenReopen() throws {
        do {
            let journal = try ResultJournal(url: url)
            XCTAssertTrue(journal.recordedIDs.isEmpty)
            try journal.append(Record(id: "a", score: 0.5, error: nil))
            try journal.append(Record(id: "b", score: nil, error: "timeout"))
        }
        let reopened = try ResultJournal(url: url)
        XCTAssertEqual(reopened.recordedIDs, ["a", "b"])
        XCTAssertEqual(reopened.failedIDs, ["b"])
        XCTAssertEqual(reopened.discardedBytes, 0)
        XCTAssertEqual(try reopened.decodeAll(Record.self), [Record(id: "a", score: 0.5, error: nil),
                                                           Record(id: "b", score: nil, error: "timeout")])
    }

    func testLinesEndWithNewline() throws {
        try ResultJournal(url: url).append(Record(id: "a", score: 1, error: nil))
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(text, "{\"id\":\"a\",\"score\":1}\n")
    }

    func testTornLastLineDiscarded() throws {
        let complete = "{\"id\":\"a\"}\n{\"id\":\"b\"}\n"
        let torn = "{\"id\":\"c\",\"sco"
        try Data((complete + torn).utf8).write(to: url)

        let journal = try ResultJournal(url: url)
        XCTAssertEqual(journal.recordedIDs, ["a", "b"])
        XCTAssertEqual(journal.discardedBytes, torn.utf8.count)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), complete)

        try journal.append(Record(id: "c", score: 2, error: nil))
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), complete + "{\"id\":\"c\",\"score\":2}\n")
    }

    func testTornOnlyLineDiscarded() throws {
        try Data("{\"id\":".utf8).write(to: url)
        let journal = try ResultJournal(url: url)
        XCTAssertTrue(journal.recordedIDs.isEmpty)
        XCTAssertEqual(try Data(contentsOf: url).count, 0)
    }

    func testCorruptInteriorLineNamed() throws {
        try Data("{\"id\":\"a\"}\nnot json\n{\"id\":\"c\"}\n".utf8).write(to: url)
        XCTAssertThrowsError(try ResultJournal(url: url)) { error in
            guard case .corruptLine(_, let line, _) = error as? JournalError else {
                return XCTFail("expected corruptLine, got \(error)")
            }
            XCTAssertEqual(line, 2)
        }
    }

    func testRecordWithoutIDRejected() throws {
        let journal = try ResultJournal(url: url)
        XCTAssertThrowsError(try journal.append(jsonLine: Data("{\"score\":1}".utf8)))
        XCTAssertThrowsError(try journal.append(jsonLine: Data("{\"id\":\"a\",\n\"x\":1}".utf8)))
        XCTAssertEqual(try Data(contentsOf: url).count, 0)
    }

    func testRetriedFailureClearsFailedID() throws {
        let journal = try ResultJournal(url: url)
        try journal.append(Record(id: "a", score: nil, error: "crash"))
        XCTAssertEqual(journal.failedIDs, ["a"])
        try journal.append(Record(id: "a", score: 1, error: nil))
        XCTAssertTrue(journal.failedIDs.isEmpty)
        XCTAssertEqual(journal.recordedIDs, ["a"])
    }

    func testSecondOpenRejectedWhileLocked() throws {
        let first = try ResultJournal(url: url)
        XCTAssertThrowsError(try ResultJournal(url: url)) { error in
            XCTAssertEqual(error as? JournalError, .locked(path: url.path))
        }
        withExtendedLifetime(first) {}
    }

    func testMissingDirectoryNamed() {
        let missing = directory.appendingPathComponent("absent/results.jsonl")
        XCTAssertThrowsError(try ResultJournal(url: missing)) { error in
            guard case .openFailed(let path, _) = error as? JournalError else {
                return XCTFail("expected openFailed, got \(error)")
            }
            XCTAssertEqual(path, missing.path)
        }
    }
}
