@testable import Cluster
import Foundation
import XCTest

final class OptionsLockTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("options-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private let options = ["method": "snapkv", "context_lengths": "1000,2000", "budget": "128"]

    func testSHA256KnownDigests() {
        XCTAssertEqual(StreamingSHA256.hexDigest([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(StreamingSHA256.hexDigest(Array("abc".utf8)),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(StreamingSHA256.hexDigest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testFingerprintSeparatesNameAndValue() {
        XCTAssertNotEqual(OptionsLock.fingerprint(["a": "b=c"]), OptionsLock.fingerprint(["a=b": "c"]))
    }

    func testFirstRunCreatesFile() throws {
        let lock = try OptionsLock.acquire(directory: directory, options: options, metadata: ["threads": "2"])
        XCTAssertFalse(lock.resumed)
        XCTAssertEqual(lock.hash, OptionsLock.fingerprint(options))
        XCTAssertTrue(FileManager.default.fileExists(atPath: lock.url.path))
    }

    func testSameOptionsResume() throws {
        _ = try OptionsLock.acquire(directory: directory, options: options, metadata: ["threads": "2"])
        let lock = try OptionsLock.acquire(directory: directory, options: options, metadata: ["threads": "8"])
        XCTAssertTrue(lock.resumed)
    }

    func testChangedOptionsRejectedWithNames() throws {
        _ = try OptionsLock.acquire(directory: directory, options: options)
        var changed = options
        changed["context_lengths"] = "1000,4000"
        changed["budget"] = nil
        changed["window"] = "32"

        XCTAssertThrowsError(try OptionsLock.acquire(directory: directory, options: changed)) { error in
            guard case .optionsChanged(_, let changes) = error as? OptionsLockError else {
                return XCTFail("expected optionsChanged, got \(error)")
            }
            XCTAssertEqual(changes, [
                OptionChange(name: "budget", old: "128", new: nil),
                OptionChange(name: "context_lengths", old: "1000,2000", new: "1000,4000"),
                OptionChange(name: "window", old: nil, new: "32"),
            ])
            let message = String(describing: error)
            XCTAssertTrue(message.contains("context_lengths: '1000,2000' -> '1000,4000'"), message)
            XCTAssertTrue(message.contains("budget: '128' -> (not set)"), message)
            XCTAssertTrue(message.contains("--save_dir"), message)
        }
    }

    func testUnreadableFileRejected() throws {
        try Data("{".utf8).write(to: directory.appendingPathComponent(OptionsLock.defaultFileName))
        XCTAssertThrowsError(try OptionsLock.acquire(directory: directory, options: options)) { error in
            guard case .unreadable = error as? OptionsLockError else {
                return XCTFail("expected unreadable, got \(error)")
            }
        }
    }
}
