import Foundation

/// Writes `data` to `path` through a temporary file, fsync and rename(2), so that readers and a crash
/// leave either the old file or the complete new one. Creates missing parent directories.
///
/// NOTE: `FileManager.replaceItemAt` is not used, because on Linux (swift-corelibs-foundation with
/// Swift 6.3) it removes the existing file and then fails with "The file doesn't exist".
func writeFileAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent()
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
        throw CommandFailure(message: "cannot create the directory \(directory.path): \(error.localizedDescription)")
    }

    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp").path
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
        throw CommandFailure(message: "cannot write \(path): creating \(temporary) failed: \(String(cString: strerror(errno)))")
    }

    var failure: String?
    data.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
                return
            }
            offset += written
        }
    }
    if failure == nil && fsync(descriptor) != 0 { failure = "fsync failed: \(String(cString: strerror(errno)))" }
    close(descriptor)

    if failure == nil && rename(temporary, path) != 0 { failure = "rename failed: \(String(cString: strerror(errno)))" }
    if let failure {
        unlink(temporary)
        throw CommandFailure(message: "cannot write \(path): \(failure); check free disk space and permissions")
    }
}
