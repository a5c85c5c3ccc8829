import XCTest
@testable import Tokenization

final class ByteLevelTests: XCTestCase {
    func testPrintableBytesMapToThemselves() {
        XCTAssertEqual(ByteLevel.scalarOfByte[Int(UInt8(ascii: "a"))], 0x61)
        XCTAssertEqual(ByteLevel.scalarOfByte[0xE9], 0xE9)
    }

    func testControlBytesMapAboveLatin1() {
        XCTAssertEqual(ByteLevel.scalarOfByte[0x20], 0x120)
        XCTAssertEqual(ByteLevel.scalarOfByte[0x0A], 0x10A)
        XCTAssertEqual(ByteLevel.scalarOfByte[0xAD], 0x143)
    }

    func testAlphabetRoundTrip() {
        let bytes = (0..<256).map(UInt8.init)
        let text = String(decoding: ByteLevel.encode(bytes), as: UTF8.self)
        XCTAssertEqual(Set(text.unicodeScalars).count, 256)
        XCTAssertEqual(ByteLevel.decode(text), bytes)
    }

    func testDecodeRejectsScalarsOutsideAlphabet() {
        XCTAssertNil(ByteLevel.decode("a b"))
        XCTAssertNil(ByteLevel.decode("日"))
    }
}

final class ByteSequenceTableTests: XCTestCase {
    func testLookupAfterGrowth() {
        var table = ByteSequenceTable()
        for index in 0..<5000 {
            table.insert(Array("key\(index)".utf8), value: Int32(index), replace: false)
        }
        XCTAssertEqual(table.count, 5000)
        for index in stride(from: 0, to: 5000, by: 7) {
            XCTAssertEqual(table.value(Array("key\(index)".utf8)), Int32(index))
        }
        XCTAssertNil(table.value(Array("key5000".utf8)))
    }

    func testFirstValueKeptUnlessReplaced() {
        var table = ByteSequenceTable()
        table.insert([1, 2, 3], value: 1, replace: false)
        table.insert([1, 2, 3], value: 2, replace: false)
        XCTAssertEqual(table.value([1, 2, 3]), 1)
        table.insert([1, 2, 3], value: 3, replace: true)
        XCTAssertEqual(table.value([1, 2, 3]), 3)
        XCTAssertEqual(table.count, 1)
    }

    func testEmptyAndLongKeys() {
        var table = ByteSequenceTable()
        XCTAssertNil(table.value([]))
        table.insert([], value: 7, replace: false)
        let long = [UInt8](repeating: 0xAB, count: 1000)
        table.insert(long, value: 8, replace: false)
        XCTAssertEqual(table.value([]), 7)
        XCTAssertEqual(table.value(long), 8)
        XCTAssertNil(table.value(Array(long.dropLast())))
    }

    func testRemoveAll() {
        var table = ByteSequenceTable()
        table.insert([9], value: 1, replace: false)
        table.removeAll()
        XCTAssertEqual(table.count, 0)
        XCTAssertNil(table.value([9]))
    }
}

final class MergeTableTests: XCTestCase {
    func testFirstRankWins() {
        var table = MergeTable(minimumCapacity: 4)
        table.insertIfAbsent(left: 1, right: 2, rank: 0, merged: 10)
        table.insertIfAbsent(left: 1, right: 2, rank: 5, merged: 11)
        table.insertIfAbsent(left: 2, right: 1, rank: 1, merged: 12)
        XCTAssertEqual(table.lookup(1, 2)?.rank, 0)
        XCTAssertEqual(table.lookup(1, 2)?.merged, 10)
        XCTAssertEqual(table.lookup(2, 1)?.merged, 12)
        XCTAssertNil(table.lookup(2, 2))
        XCTAssertEqual(table.count, 2)
    }
}

final class StreamingPrefixTests: XCTestCase {
    func testCompleteTextIsReleased() {
        XCTAssertEqual(StreamingDecoder.completePrefixLength([]), 0)
        XCTAssertEqual(StreamingDecoder.completePrefixLength(Array("ab".utf8)), 2)
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0xE2, 0x96, 0x81]), 3)
    }

    func testUnfinishedCharacterIsHeld() {
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0xE2, 0x96]), 0)
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x41, 0xE2]), 1)
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x41, 0xF0, 0x9F, 0xA6]), 1)
    }

    func testInvalidBytesAreReleased() {
        // E0 80 can never become valid, and a lone continuation byte is an error at once.
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0xE0, 0x80]), 2)
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0x80]), 1)
        XCTAssertEqual(StreamingDecoder.completePrefixLength([0xFF]), 1)
    }
}
