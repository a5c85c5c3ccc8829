import Foundation
import XCTest

/// Runs the `kvfactory` binary built next to the test bundle, as a user runs it.
enum KVFactoryProcess {
    struct Output {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    struct MissingBinary: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    static func binary() throws -> URL {
        let candidates = [
            Bundle.main.executableURL?.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle(for: LongBenchEndToEndTests.self).bundleURL.deletingLastPathComponent(),
        ].compactMap { $0 }
        for directory in candidates {
            let binary = directory.appendingPathComponent("kvfactory")
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
        }
        throw MissingBinary(message: "kvfactory was not found next to the test bundle in \(candidates.map(\.path)); "
            + "build it with 'swift build --product kvfactory'")
    }

    /// Runs kvfactory with `arguments` in `directory` and waits for it; output goes through files, so a
    /// long run cannot block on a full pipe.
    static func run(_ arguments: [String], in directory: URL) throws -> Output {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let outputURL = directory.appendingPathComponent(".stdout-\(UUID().uuidString)")
        let errorURL = directory.appendingPathComponent(".stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outputURL)
            try? FileManager.default.removeItem(at: errorURL)
        }
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        try process.run()
        process.waitUntilExit()
        return Output(status: process.terminationStatus,
                      standardOutput: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
                      standardError: (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "")
    }

    /// Lists every file under `directory`, relative to it, sorted.
    static func files(under directory: URL) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory.path) else { return [] }
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent(path).path, isDirectory: &isDirectory),
               !isDirectory.boolValue {
                files.append(path)
            }
        }
        return files.sorted()
    }
}
