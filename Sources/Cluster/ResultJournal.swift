import Foundation

/// Errors of the results journal and of the options lock.
public enum JournalError: Error, CustomStringConvertible, Equatable {
    case openFailed(path: String, reason: String)
    case readFailed(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    /// Another process holds the lock on the journal.
    case locked(path: String)
    /// A complete line in the middle of the journal is not a JSON object with a string id.
    case corruptLine(path: String, line: Int, reason: String)
    /// A record passed to `append` cannot be written as one journal line.
    case invalidRecord(reason: String)

    public var description: String {
        switch self {
        case .openFailed(let path, let reason):
            return "cannot open the results journal \(path): \(reason)"
        case .readFailed(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .writeFailed(let path, let reason):
            return "writing to \(path) failed: \(reason); check free disk space and permissions, then rerun to resume"
        case .locked(let path):
            return "\(path) is in use by another run; wait for it to finish or use another --save_dir"
        case .corruptLine(let path, let line, let reason):
            return "line \(line) of \(path) is not a valid result record (\(reason)); "
                + "remove or repair that line, then rerun to resume"
        case .invalidRecord(let reason):
            return "invalid journal record: \(reason)"
        }
    }
}

/// An append-only JSON Lines file of results, one JSON object per line, made durable line by line.
///
/// Each `append` writes a whole line with one write call and then calls fsync, so after a crash every
/// line but possibly the last is complete. Opening the journal cuts off a last line without its newline
/// (a torn write) and reads the ids of the records before it, which a resumed run skips. The journal
/// holds an exclusive flock on the file while open, so two runs cannot write to it at once.
/// Not thread-safe; `WorkScheduler` calls `onResult` serially.
public final class ResultJournal {
    public let url: URL
    /// The key whose string value identifies a record.
    public let idKey: String
    /// The key present in the records of failed items.
    public let errorKey: String
    /// Bytes of a torn last line removed when the journal was opened; 0 if there was none.
    public let discardedBytes: Int
    private var records: Records

    /// The complete lines, without newlines, in file order, including those appended since opening.
    public var lines: [Data] { records.lines }
    /// Ids of every record, successful or failed.
    public var recordedIDs: Set<String> { records.recordedIDs }
    /// Ids whose latest record has a non-null `errorKey`.
    public var failedIDs: Set<String> { records.failedIDs }

    private let descriptor: Int32
    /// File length after the last complete line; a failed append truncates the file back to it.
    private var committedLength: off_t

    /// Opens or creates the journal at `url`, removes a torn last line and reads the existing records.
    public init(url: URL, idKey: String = "id", errorKey: String = "error") throws {
        self.url = url
        self.idKey = idKey
        self.errorKey = errorKey
        let path = url.path

        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError.openFailed(path: path, reason: String(cString: strerror(errno))) }
        var ready = false
        defer { if !ready { close(fd) } }

        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if errno == EWOULDBLOCK { throw JournalError.locked(path: path) }
            throw JournalError.openFailed(path: path, reason: "flock failed: \(String(cString: strerror(errno)))")
        }

        let contents = try Self.readAll(fd, path: path)
        let completeLength = (contents.lastIndex(of: UInt8(ascii: "\n")) ?? -1) + 1
        if completeLength < contents.count {
            guard ftruncate(fd, off_t(completeLength)) == 0, fsync(fd) == 0 else {
                throw JournalError.writeFailed(path: path, reason: "cutting the torn last line failed: "
                    + String(cString: strerror(errno)))
            }
        }

        var records = Records()
        var lineNumber = 0
        for line in contents[0..<completeLength].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }) {
                continue
            }
            do {
                try records.add(Data(line), idKey: idKey, errorKey: errorKey)
            } catch JournalError.invalidRecord(let reason) {
                throw JournalError.corruptLine(path: path, line: lineNumber, reason: reason)
            }
        }
        if contents.isEmpty { Self.syncDirectory(of: url) }

        descriptor = fd
        committedLength = off_t(completeLength)
        discardedBytes = contents.count - completeLength
        self.records = records
        ready = true
    }

    deinit {
        close(descriptor)
    }

    /// Appends an Encodable value as one line, with sorted keys, and makes it durable.
    public func append<Record: Encodable>(_ record: Record) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try append(jsonLine: try encoder.encode(record))
    }

    /// Appends one JSON object, given as UTF-8 without a newline, and makes it durable.
    public func append(jsonLine: Data) throws {
        guard !jsonLine.contains(UInt8(ascii: "\n")) else {
            throw JournalError.invalidRecord(reason: "the JSON text contains a newline; encode it without pretty printing")
        }
        let (id, failed) = try Records.parse(jsonLine, idKey: idKey, errorKey: errorKey)

        var bytes = [UInt8](jsonLine)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in write(descriptor, raw.baseAddress! + offset, raw.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                // A partial line would merge with the next append, so it is cut off again.
                _ = ftruncate(descriptor, committedLength)
                throw JournalError.writeFailed(path: url.path, reason: reason)
            }
            offset += written
        }
        guard fsync(descriptor) == 0 else {
            throw JournalError.writeFailed(path: url.path, reason: "fsync failed: \(String(cString: strerror(errno)))")
        }
        committedLength += off_t(bytes.count)
        records.insert(jsonLine, id: id, failed: failed)
    }

    /// Decodes every line as `Record`, in file order.
    public func decodeAll<Record: Decodable>(_ type: Record.Type) throws -> [Record] {
        let decoder = JSONDecoder()
        return try lines.enumerated().map { index, line in
            do {
                return try decoder.decode(type, from: line)
            } catch {
                throw JournalError.corruptLine(path: url.path, line: index + 1, reason: "\(error)")
            }
        }
    }

    private static func readAll(_ descriptor: Int32, path: String) throws -> [UInt8] {
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw JournalError.readFailed(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { return contents }
            contents.append(contentsOf: chunk[0..<count])
            offset += off_t(count)
        }
    }

    /// Makes a new file's directory entry durable, so that a crash cannot lose the whole file.
    static func syncDirectory(of url: URL) {
        let directory = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return }
        defer { close(directory) }
        _ = fsync(directory)
    }
}

/// The parsed lines of a journal.
private struct Records {
    var lines: [Data] = []
    var recordedIDs: Set<String> = []
    var failedIDs: Set<String> = []

    /// Checks that `line` is a JSON object with a string id, then adds it.
    mutating func add(_ line: Data, idKey: String, errorKey: String) throws {
        let (id, failed) = try Self.parse(line, idKey: idKey, errorKey: errorKey)
        insert(line, id: id, failed: failed)
    }

    mutating func insert(_ line: Data, id: String, failed: Bool) {
        lines.append(line)
        recordedIDs.insert(id)
        if failed {
            failedIDs.insert(id)
        } else {
            failedIDs.remove(id)
        }
    }

    /// Returns the record's id and whether it has a non-null error field.
    static func parse(_ line: Data, idKey: String, errorKey: String) throws -> (id: String, failed: Bool) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: line)
        } catch {
            throw JournalError.invalidRecord(reason: "not valid JSON")
        }
        guard let record = object as? [String: Any] else {
            throw JournalError.invalidRecord(reason: "not a JSON object")
        }
        guard let id = record[idKey] as? String else {
            throw JournalError.invalidRecord(reason: "no string field '\(idKey)'")
        }
        let failed = record[errorKey].map { !($0 is NSNull) } ?? false
        return (id, failed)
    }
}
