import XCTest
@testable import ModelFormats

final class GGUFFileTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let modelPath = repositoryRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path

    /// A valid version-3 file with every metadata value type, a nested array and two F32 tensors.
    func makeValidFile() -> GGUFTestFile {
        var file = GGUFTestFile()
        file.header(tensorCount: 2, metadataCount: 15)
        file.string("general.architecture"); file.u32(8); file.string("llama")
        file.string("general.alignment"); file.u32(4); file.u32(64)
        file.string("t.u8"); file.u32(0); file.u8(200)
        file.string("t.i8"); file.u32(1); file.u8(0xFF)
        file.string("t.u16"); file.u32(2); file.u8(0x34); file.u8(0x12)
        file.string("t.i16"); file.u32(3); file.u8(0xFE); file.u8(0xFF)
        file.string("t.u32"); file.u32(4); file.u32(4_000_000_000)
        file.string("t.i32"); file.u32(5); file.i32(-7)
        file.string("t.f32"); file.u32(6); file.f32(1.5)
        file.string("t.bool"); file.u32(7); file.u8(1)
        file.string("t.u64"); file.u32(10); file.u64(1 << 40)
        file.string("t.i64"); file.u32(11); file.u64(UInt64(bitPattern: -3))
        file.string("t.f64"); file.u32(12); file.f64(-2.25)
        file.string("t.strings"); file.u32(9); file.u32(8); file.u64(2); file.string("a b"); file.string("ü")
        // An array of two arrays of int32.
        file.string("t.nested"); file.u32(9); file.u32(9); file.u64(2)
        file.u32(5); file.u64(2); file.i32(1); file.i32(2)
        file.u32(5); file.u64(1); file.i32(3)
        file.tensorInfo(name: "a", shape: [4, 2], type: 0, offset: 0)
        file.tensorInfo(name: "b", shape: [3], type: 0, offset: 64)
        file.pad(to: 64)
        for i in 0..<8 { file.f32(Float(i)) }
        file.pad(to: 64)
        for i in 0..<3 { file.f32(Float(-i)) }
        return file
    }

    func testParsesEveryValueType() throws {
        let file = try GGUFFile(path: makeValidFile().write(name: "valid.gguf"))
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 64)
        XCTAssertEqual(file.metadataKeys.first, "general.architecture")
        XCTAssertEqual(file.architecture, "llama")
        XCTAssertEqual(file.metadata["t.u8"], .uint8(200))
        XCTAssertEqual(file.metadata["t.i8"], .int8(-1))
        XCTAssertEqual(file.metadata["t.u16"], .uint16(0x1234))
        XCTAssertEqual(file.metadata["t.i16"], .int16(-2))
        XCTAssertEqual(file.int("t.u32"), 4_000_000_000)
        XCTAssertEqual(file.int("t.i32"), -7)
        XCTAssertEqual(file.float("t.f32"), 1.5)
        XCTAssertEqual(file.bool("t.bool"), true)
        XCTAssertEqual(file.int("t.u64"), 1 << 40)
        XCTAssertEqual(file.int("t.i64"), -3)
        XCTAssertEqual(file.metadata["t.f64"], .float64(-2.25))
        XCTAssertEqual(file.stringArray("t.strings"), ["a b", "ü"])
        XCTAssertEqual(file.metadata["t.nested"], .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])]))
    }

    func testReadsTensorData() throws {
        let file = try GGUFFile(path: makeValidFile().write(name: "tensors.gguf"))
        XCTAssertEqual(file.tensors.map(\.name), ["a", "b"])
        let a = try XCTUnwrap(file.tensorInfo("a"))
        XCTAssertEqual(a.shape, [4, 2])
        XCTAssertEqual(a.elementCount, 8)
        XCTAssertEqual(a.byteCount, 32)
        XCTAssertEqual(file.dataOffset % 64, 0)
        let values = Array(file.rawData(a).bindMemory(to: Float.self))
        XCTAssertEqual(values, (0..<8).map(Float.init))
        let b = try XCTUnwrap(file.tensorInfo("b"))
        XCTAssertEqual(Array(file.rawData(b).bindMemory(to: Float.self)), [0, -1, -2])
    }

    func testTruncationAtEveryLengthThrows() throws {
        let full = makeValidFile().bytes
        // Every proper prefix must fail with a typed error and never crash.
        for length in stride(from: 0, to: full.count, by: 1) {
            var file = GGUFTestFile()
            file.bytes = Array(full.prefix(length))
            let path = try file.write(name: "truncated.gguf")
            XCTAssertThrowsError(try GGUFFile(path: path), "prefix of \(length) bytes") { error in
                XCTAssertTrue(error is GGUFError, "prefix of \(length) bytes gave \(error)")
            }
        }
    }

    func testTruncatedErrorNamesFieldAndOffset() throws {
        var file = GGUFTestFile()
        file.bytes = Array(makeValidFile().bytes.prefix(100))
        let path = try file.write(name: "short.gguf")
        XCTAssertThrowsError(try GGUFFile(path: path)) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("truncated"), message)
            XCTAssertTrue(message.contains("byte offset"), message)
            XCTAssertTrue(message.contains("metadata"), message)
        }
    }

    func testRejectsNonGGUF() throws {
        var file = GGUFTestFile()
        file.bytes = Array("{\"not\": \"a model\"}".utf8)
        XCTAssertThrowsError(try GGUFFile(path: file.write(name: "text.gguf"))) { error in
            guard case GGUFError.notGGUF = error else { return XCTFail("got \(error)") }
        }
    }

    func testRejectsMissingFile() {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/model.gguf")) { error in
            XCTAssertEqual(error as? GGUFError, .fileNotFound(path: "/nonexistent/model.gguf"))
            XCTAssertTrue(String(describing: error).contains("scripts/setup.sh"))
        }
    }

    func testRejectsUnsupportedVersion() throws {
        var file = GGUFTestFile()
        file.header(version: 1, tensorCount: 0, metadataCount: 0)
        XCTAssertThrowsError(try GGUFFile(path: file.write(name: "v1.gguf"))) { error in
            XCTAssertEqual(error as? GGUFError, .unsupportedVersion(path: try! file.write(name: "v1.gguf"), version: 1))
        }
    }

    func testAcceptsVersionTwo() throws {
        var file = GGUFTestFile()
        file.header(version: 2, tensorCount: 0, metadataCount: 1)
        file.string("general.architecture"); file.u32(8); file.string("llama")
        XCTAssertEqual(try GGUFFile(path: file.write(name: "v2.gguf")).version, 2)
    }

    func testHugeCountsAreRejectedBeforeAllocation() throws {
        var file = GGUFTestFile()
        file.header(tensorCount: 0, metadataCount: 1)
        file.string("t.array"); file.u32(9); file.u32(4); file.u64(UInt64(1) << 62)
        XCTAssertThrowsError(try GGUFFile(path: file.write(name: "huge-array.gguf"))) { error in
            guard case GGUFError.invalidValue(_, let field, _, _) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(field.contains("t.array"), field)
        }

        var strings = GGUFTestFile()
        strings.header(tensorCount: 0, metadataCount: 1)
        strings.u64(UInt64.max)
        XCTAssertThrowsError(try GGUFFile(path: strings.write(name: "huge-string.gguf")))

        var tensors = GGUFTestFile()
        tensors.header(tensorCount: UInt64(1) << 40, metadataCount: 0)
        XCTAssertThrowsError(try GGUFFile(path: tensors.write(name: "huge-tensors.gguf"))) { error in
            guard case GGUFError.invalidValue(_, let field, _, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(field, "tensor_count")
        }
    }

    func testTensorBeyondFileIsRejected() throws {
        var file = GGUFTestFile()
        file.header(tensorCount: 1, metadataCount: 0)
        file.tensorInfo(name: "w", shape: [1024, 1024], type: 0, offset: 0)
        file.pad(to: 32)
        file.f32(1)
        XCTAssertThrowsError(try GGUFFile(path: file.write(name: "short-data.gguf"))) { error in
            guard case GGUFError.truncated(_, let field, _, let needed, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(field, "tensor[w] data")
            XCTAssertEqual(needed, 4 << 20)
        }
    }

    func testBadDimensionsAndTypesAreRejected() throws {
        var zero = GGUFTestFile()
        zero.header(tensorCount: 1, metadataCount: 0)
        zero.tensorInfo(name: "w", shape: [0], type: 0, offset: 0)
        XCTAssertThrowsError(try GGUFFile(path: zero.write(name: "zero-dim.gguf")))

        var tooMany = GGUFTestFile()
        tooMany.header(tensorCount: 1, metadataCount: 0)
        tooMany.tensorInfo(name: "w", shape: [1, 1, 1, 1, 1], type: 0, offset: 0)
        XCTAssertThrowsError(try GGUFFile(path: tooMany.write(name: "five-dims.gguf")))

        var unknown = GGUFTestFile()
        unknown.header(tensorCount: 1, metadataCount: 0)
        unknown.tensorInfo(name: "w", shape: [32], type: 77, offset: 0)
        unknown.pad(to: 32)
        unknown.bytes += [UInt8](repeating: 0, count: 256)
        XCTAssertThrowsError(try GGUFFile(path: unknown.write(name: "unknown-type.gguf"))) { error in
            XCTAssertTrue(String(describing: error).contains("unknown ggml type 77"), String(describing: error))
        }

        var misaligned = GGUFTestFile()
        misaligned.header(tensorCount: 1, metadataCount: 0)
        misaligned.tensorInfo(name: "w", shape: [2], type: 0, offset: 4)
        misaligned.pad(to: 32)
        misaligned.bytes += [UInt8](repeating: 0, count: 64)
        XCTAssertThrowsError(try GGUFFile(path: misaligned.write(name: "misaligned.gguf")))
    }

    func testRealModelTable() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.modelPath), "run scripts/setup.sh to install the model")
        let file = try GGUFFile(path: Self.modelPath)
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.architecture, "llama")
        XCTAssertEqual(file.int("llama.block_count"), 30)
        XCTAssertEqual(file.int("llama.attention.head_count"), 9)
        XCTAssertEqual(file.int("llama.attention.head_count_kv"), 3)
        XCTAssertEqual(file.stringArray("tokenizer.ggml.tokens")?.count, 49152)
        XCTAssertEqual(file.tensors.count, 272)
        XCTAssertEqual(file.tensorInfo("token_embd.weight")?.type, .q8_0)
        XCTAssertEqual(file.tensorInfo("token_embd.weight")?.shape, [576, 49152])
        XCTAssertEqual(file.tensorInfo("blk.0.attn_q.weight")?.type, .q4_1)
        XCTAssertEqual(file.dataOffset + file.tensorBytes, file.fileSize)
    }
}
