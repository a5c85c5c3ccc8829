import Foundation

/// Writes whole files so that readers see either the old file or the complete new one, never a part.
enum AtomicFile {
    /// Writes `bytes` to a temporary file beside `path` and renames it over `path`. Creates missing
    /// parent directories. The file gets mode 0644 before the process umask.
    static func write(_ bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError.writeFailed(path: path, reason: "cannot create the directory \(directory): \(error.localizedDescription)")
        }

        // A random suffix keeps concurrent writers, such as MPI ranks on a shared file system, off each
        // other's temporary file, and O_EXCL makes a collision fail instead of sharing the file.
        let suffix = UUID().uuidString.prefix(8)
        let temporaryPath = "\(path).tmp-\(getpid())-\(suffix)"
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else {
            throw ReportError.writeFailed(path: path, reason: "cannot create \(temporaryPath): \(String(cString: strerror(errno)))")
        }

        var written = 0
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let result = Foundation.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                written += result
            }
        }
        if failure == nil && fsync(descriptor) != 0 {
            failure = "fsync failed: \(String(cString: strerror(errno)))"
        }
        if close(descriptor) != 0 && failure == nil {
            failure = "close failed: \(String(cString: strerror(errno)))"
        }
        if let failure {
            unlink(temporaryPath)
            throw ReportError.writeFailed(path: path, reason: failure)
        }

        guard rename(temporaryPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw ReportError.writeFailed(path: path, reason: "cannot rename \(temporaryPath) into place: \(reason)")
        }
    }
}
