import Dispatch
import Foundation
import XCTest
@testable import ModelFormats

/// Dequantization of whole tensors of the real SmolLM2 model. The tensor offsets and sampled values
/// come from smollm2_tensors.json, written by scripts/golden/make_quant_fixtures.py with the `gguf`
/// package's own reader, so these tests do not depend on the Swift GGUF reader.
final class DequantizeModelTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    func testSmolLM2TensorsMatchGolden() throws {
        let fixture = try QuantFixtures.load(QuantFixtures.ModelFile.self, "smollm2_tensors.json")
        let model = try openModel(fixture)
        XCTAssertEqual(Set(fixture.tensors.map(\.type)), ["Q8_0", "Q4_1", "F32"])

        for tensor in fixture.tensors {
            let type = try XCTUnwrap(GGMLType.allCases.first { $0.name == tensor.type }, tensor.type)
            let bytes = try read(model, offset: tensor.offset, count: tensor.byteCount)
            let indices = try QuantFixtures.int64s(tensor.indices)
            let expected = try QuantFixtures.uint32s(tensor.expected)

            // Tensors up to 2^21 elements are converted whole on the concurrent path. For larger ones
            // (token_embd.weight has 28 M) that takes too long in debug builds, so only the blocks that
            // hold the sampled indices are converted.
            let sampled: [Float]
            if tensor.count <= 1 << 21 {
                var values = [Float](repeating: .nan, count: tensor.count)
                try bytes.withUnsafeBytes {
                    try Dequantizer.dequantizeConcurrently(type, from: $0.baseAddress!, count: tensor.count, into: &values)
                }
                sampled = indices.map { values[$0] }
            } else {
                let blockBytes = try XCTUnwrap(type.blockBytes)
                sampled = try indices.map { index in
                    let block = index / type.blockSize
                    let blockValues = try runFast(type, Array(bytes[block * blockBytes..<(block + 1) * blockBytes]),
                                                  count: type.blockSize)
                    return blockValues[index % type.blockSize]
                }
            }
            XCTAssertEqual(bitMismatches(sampled, expected), [], "\(tensor.name): sampled values")

            // The scalar reference is slow in debug builds, so it checks at most the first 2^18 elements.
            let checkedCount = min(tensor.count, 1 << 18)
            let checkedBytes = Array(bytes[..<(try Dequantizer.byteCount(of: type, count: checkedCount))])
            let fast = try runFast(type, checkedBytes, count: checkedCount)
            let reference = try runReference(type, checkedBytes, count: checkedCount)
            XCTAssertEqual(bitMismatches(fast, reference.map(\.bitPattern)), [], "\(tensor.name): fast against reference")
        }
    }

    /// Prints the Q4_1 throughput of the fast path, the reference and the concurrent fast path. The
    /// element count is that of all Q4_1 tensors of the model (106,168,320): one real tensor is converted
    /// repeatedly into consecutive parts of one 425 MB output buffer, as a model loader would.
    /// It runs only when KVFACTORY_BENCHMARK is set, and makes sense only in a release build:
    /// `KVFACTORY_BENCHMARK=1 swift test -c release -Xswiftc -enable-testing --filter DequantizeModelTests`.
    func testQ4_1Throughput() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["KVFACTORY_BENCHMARK"] != nil,
                          "set KVFACTORY_BENCHMARK=1 to run the dequantization benchmark")
        let fixture = try QuantFixtures.load(QuantFixtures.ModelFile.self, "smollm2_tensors.json")
        let model = try openModel(fixture)
        let tensor = try XCTUnwrap(fixture.tensors.first { $0.type == "Q4_1" })
        let bytes = try read(model, offset: tensor.offset, count: tensor.byteCount)
        let repetitions = 106_168_320 / tensor.count
        let output = UnsafeMutablePointer<Float>.allocate(capacity: repetitions * tensor.count)
        defer { output.deallocate() }

        try bytes.withUnsafeBytes { source in
            let base = source.baseAddress!
            let runs: [(String, (UnsafeMutablePointer<Float>) throws -> Void)] = [
                ("fast", { try Dequantizer.dequantize(.q4_1, from: base, count: tensor.count, into: $0) }),
                ("reference", { try Dequantizer.dequantizeReference(.q4_1, from: base, count: tensor.count, into: $0) }),
                ("concurrent", { try Dequantizer.dequantizeConcurrently(.q4_1, from: base, count: tensor.count, into: $0) }),
            ]
            for (name, run) in runs {
                // The first pass faults in the output pages, so the timed pass measures conversion.
                for pass in 0..<2 {
                    let start = DispatchTime.now().uptimeNanoseconds
                    for repetition in 0..<repetitions {
                        try run(output + repetition * tensor.count)
                    }
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    let elements = Double(repetitions * tensor.count)
                    guard pass == 1 else {
                        continue
                    }
                    print(String(format: "Q4_1 %@: %.0f M elements/s (%.3f s for %.0f M elements, %d cores)", name,
                                 elements / seconds / 1e6, seconds, elements / 1e6,
                                 ProcessInfo.processInfo.activeProcessorCount))
                }
            }
        }
    }

    /// Prints the single-thread throughput of the fast path and the reference for every supported type,
    /// on 2^22 elements of random bytes, as the best of five runs. The 16 MB output fits in a large
    /// last-level cache, so this measures the kernels more than memory bandwidth. Runs only when
    /// KVFACTORY_BENCHMARK is set, like the test above.
    func testThroughputPerType() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["KVFACTORY_BENCHMARK"] != nil,
                          "set KVFACTORY_BENCHMARK=1 to run the dequantization benchmark")
        let count = 1 << 22
        let output = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { output.deallocate() }
        var generator = SplitMix64(seed: 3)

        for type in GGMLType.allCases where type.isDequantizable {
            let bytes = (0..<(try Dequantizer.byteCount(of: type, count: count)) / 8).flatMap { _ in
                withUnsafeBytes(of: generator.next()) { Array($0) }
            }
            try bytes.withUnsafeBytes { source in
                var rates: [String] = []
                for (name, reference) in [("fast", false), ("reference", true)] {
                    var best = Double.infinity
                    for _ in 0..<5 {
                        let start = DispatchTime.now().uptimeNanoseconds
                        if reference {
                            try Dequantizer.dequantizeReference(type, from: source.baseAddress!, count: count, into: output)
                        } else {
                            try Dequantizer.dequantize(type, from: source.baseAddress!, count: count, into: output)
                        }
                        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    }
                    rates.append(String(format: "%@ %.0f", name, Double(count) / best / 1e6))
                }
                print("\(type.name): \(rates.joined(separator: ", ")) M elements/s")
            }
        }
    }

    private func openModel(_ fixture: QuantFixtures.ModelFile) throws -> FileHandle {
        let path = Self.repositoryRoot.appendingPathComponent("models").appendingPathComponent(fixture.model).path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "run scripts/setup.sh to install the model")
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let size = try FileManager.default.attributesOfItem(atPath: resolved)[.size] as? Int
        XCTAssertEqual(size, fixture.fileSize, "\(path) differs from the model the fixture was made from")
        return try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    }

    private func read(_ file: FileHandle, offset: Int, count: Int) throws -> [UInt8] {
        try file.seek(toOffset: UInt64(offset))
        let data = try XCTUnwrap(try file.read(upToCount: count))
        XCTAssertEqual(data.count, count)
        return [UInt8](data)
    }
}
