import Cluster
import Foundation

extension StreamingSHA256 {
    /// Returns the SHA-256 of a file's contents, read in 4 MiB chunks.
    static func hexDigest(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CommandFailure(message: "cannot open \(path) to compute its sha256; check that it exists and is readable")
        }
        defer { try? handle.close() }
        var hasher = StreamingSHA256()
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 4 << 20) ?? Data()
            } catch {
                throw CommandFailure(message: "reading \(path) failed while computing its sha256: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            hasher.update(chunk)
        }
        return hasher.finish()
    }
}
