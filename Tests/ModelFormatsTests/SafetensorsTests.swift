import Foundation
import XCTest
@testable import ModelFormats

final class SafetensorsTests: XCTestCase {
    private func temporaryPath() -> String {
        NSTemporaryDirectory() + "safetensors-\(UUID().uuidString).safetensors"
    }

    /// Writes a file byte by byte: the 8-byte length, the header text and raw data.
    private func writeRaw(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) throws -> String {
        let path = temporaryPath()
        var bytes = Data()
        let headerBytes = Array(header.utf8)
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: headerBytes)
        bytes.append(contentsOf: data)
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    private func assertError(_ path: String, contains phrases: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            for phrase in phrases {
                XCTAssertTrue("\(error)".contains(phrase), "\"\(error)\" lacks \(phrase)", file: file, line: line)
            }
        }
    }

    func testRoundTrip() throws {
        let path = temporaryPath()
        let q = (0..<24).map { Float($0) * 0.5 - 3 }
        try SafetensorsWriter.write([SafetensorsWriter.Tensor(name: "q", shape: [1, 2, 3, 4], values: q),
                                     SafetensorsWriter.Tensor(name: "k.0", shape: [2], values: [.infinity, -0.0])],
                                    metadata: ["layer": "3", "quote\"d": "a\nb"], to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.tensors.map(\.name), ["q", "k.0"])
        XCTAssertEqual(file.metadata, ["layer": "3", "quote\"d": "a\nb"])
        let read = try file.float32Tensor(named: "q", expectedShape: [1, nil, 3, 4])
        XCTAssertEqual(read.shape, [1, 2, 3, 4])
        XCTAssertEqual(read.values, q)
        XCTAssertEqual(try file.float32Tensor(named: "k.0").values.map(\.bitPattern), [Float.infinity.bitPattern, (-0.0 as Float).bitPattern])
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertEqual((size - 26 * 4) % 8, 0, "data starts at a multiple of 8")
    }

    func testReadsFileWrittenByPythonLayout() throws {
        // The layout the Python safetensors package writes: header padded with spaces, offsets from the data start.
        let header = #"{"__metadata__":{"format":"pt"},"v":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   "#
        let path = try writeRaw(header: header, data: [0, 0, 128, 63, 0, 0, 0, 192])
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(try file.float32Tensor(named: "v").values, [1, -2])
        XCTAssertEqual(file.metadata["format"], "pt")
    }

    func testReadsReferencePackageOutput() throws {
        // Written by the Python safetensors package from the same inputs as the golden selections.
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/policies")
        let file = try SafetensorsFile(path: directory.appendingPathComponent("probe_seed0.safetensors").path)
        XCTAssertEqual(file.metadata["seed"], "0")
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("selections.json"))) as? [String: Any]
        let tensors = try XCTUnwrap((golden?["tensors"] as? [String: Any])?["seed0"] as? [String: Any])
        for name in ["q", "k", "v"] {
            let entry = try XCTUnwrap(tensors[name] as? [String: Any])
            let expectedShape = try XCTUnwrap(entry["shape"] as? [Int])
            let expected = try XCTUnwrap(entry["sixty_fourths"] as? [Int]).map { Float($0) / 64 }
            let read = try file.float32Tensor(named: name, expectedShape: expectedShape.map { $0 })
            XCTAssertEqual(read.values, expected, name)
        }
    }

    func testWrongDTypeNamesIt() throws {
        let path = try writeRaw(header: #"{"q":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        let file = try SafetensorsFile(path: path)
        XCTAssertThrowsError(try file.float32Tensor(named: "q")) { error in
            XCTAssertEqual(error as? SafetensorsError, .wrongDType(path: path, tensor: "q", dtype: "F16", expected: "F32"))
        }
    }

    func testWrongShapeNamesIt() throws {
        let path = temporaryPath()
        try SafetensorsWriter.write([SafetensorsWriter.Tensor(name: "k", shape: [1, 3, 2], values: Array(repeating: 0, count: 6))], to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertThrowsError(try file.float32Tensor(named: "k", expectedShape: [1, nil, nil, nil])) { error in
            XCTAssertTrue("\(error)".contains("[1, 3, 2]"), "\(error)")
            XCTAssertTrue("\(error)".contains("[1, any, any, any]"), "\(error)")
        }
        XCTAssertThrowsError(try file.float32Tensor(named: "q")) { error in
            XCTAssertEqual(error as? SafetensorsError, .missingTensor(path: path, name: "q", available: ["k"]))
        }
    }

    func testBadHeaders() throws {
        let tooShort = temporaryPath()
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tooShort))
        assertError(tooShort, contains: ["3 bytes"])
        assertError(try writeRaw(header: "{}", declaredLength: 1 << 40), contains: ["exceeds"])
        assertError(try writeRaw(header: "{}", declaredLength: 50), contains: ["50 bytes", "only 2"])
        assertError(try writeRaw(header: "[1,2]"), contains: ["start with"])
        assertError(try writeRaw(header: "{\"q\":"), contains: ["not valid JSON"])
        assertError(try writeRaw(header: #"{"q":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), contains: ["\"q\"", "F17"])
        assertError(try writeRaw(header: #"{"q":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), contains: ["shape", "-1"])
        assertError(try writeRaw(header: #"{"q":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), contains: ["needs 8 bytes", "span 4"])
        assertError(try writeRaw(header: #"{"q":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]), contains: ["truncated", "\"q\"", "8"])
        assertError(try writeRaw(header: #"{"q":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]), contains: ["[4, 0]"])
        assertError(try writeRaw(header: #"{"q":{"dtype":"F32","shape":[1]}}"#), contains: ["data_offsets"])
        assertError(try writeRaw(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                                 data: Array(repeating: 0, count: 8)), contains: ["overlap"])
        assertError(try writeRaw(header: #"{"__metadata__":{"n":3}}"#), contains: ["__metadata__"])
        assertError("/nonexistent/probe.safetensors", contains: ["not found"])
    }

    func testWriterRejectsBadTensors() {
        let path = temporaryPath()
        XCTAssertThrowsError(try SafetensorsWriter.write([SafetensorsWriter.Tensor(name: "q", shape: [2, 2], values: [1])], to: path)) { error in
            XCTAssertTrue("\(error)".contains("[2, 2]"), "\(error)")
        }
        let duplicate = SafetensorsWriter.Tensor(name: "k.0", shape: [1], values: [1])
        XCTAssertThrowsError(try SafetensorsWriter.write([duplicate, duplicate], to: path)) { error in
            XCTAssertTrue("\(error)".contains("twice"), "\(error)")
        }
        XCTAssertThrowsError(try SafetensorsWriter.write([], to: "/nonexistent/dir/out.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/dir/out.safetensors"), "\(error)")
        }
    }
}
