import Foundation

/// One option whose value differs between the stored run and the current command; nil means absent.
public struct OptionChange: Equatable, Sendable, CustomStringConvertible {
    public let name: String
    public let old: String?
    public let new: String?

    public var description: String {
        "\(name): \(old.map { "'\($0)'" } ?? "(not set)") -> \(new.map { "'\($0)'" } ?? "(not set)")"
    }
}

/// Errors of `OptionsLock`.
public enum OptionsLockError: Error, CustomStringConvertible, Equatable {
    /// The stored options differ from the current ones, so the results cannot be combined.
    case optionsChanged(path: String, changes: [OptionChange])
    case unreadable(path: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .optionsChanged(let path, let changes):
            let list = changes.map { "  " + $0.description }.joined(separator: "\n")
            return "cannot resume: the options that affect results differ from those recorded in \(path):\n\(list)\n"
                + "Rerun with the recorded options to resume, or choose a new --save_dir to start a separate run."
        case .unreadable(let path, let reason):
            return "cannot read the run options in \(path): \(reason); restore the file or choose a new --save_dir"
        case .writeFailed(let path, let reason):
            return "writing the run options to \(path) failed: \(reason)"
        }
    }
}

/// The options that affect results, stored next to the results journal with their SHA-256 fingerprint,
/// so that a resumed run cannot mix results made with different options.
///
/// Values are strings in the caller's canonical form (for example "1000,2000,4000" for a list), so that
/// equal settings always compare equal. Options that do not change results, such as the thread count or
/// the progress display, belong in `metadata`, which is stored but not compared.
public struct OptionsLock: Sendable {
    public static let defaultFileName = "run_options.json"
    static let formatVersion = 1

    public let url: URL
    public let options: [String: String]
    /// Hexadecimal SHA-256 of the canonical encoding of `options`.
    public let hash: String
    /// True when the file existed and matched; false when this call created it.
    public let resumed: Bool

    /// Returns the hexadecimal SHA-256 of the options, independent of dictionary order.
    ///
    /// The hashed text lists each option as name and value, each prefixed with its UTF-8 byte length,
    /// sorted by name, so that no value can imitate a separator.
    public static func fingerprint(_ options: [String: String]) -> String {
        var text: [UInt8] = []
        for name in options.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let value = options[name]!
            text += Array("\(name.utf8.count):\(name)=\(value.utf8.count):\(value)\n".utf8)
        }
        return StreamingSHA256.hexDigest(text)
    }

    /// Returns the options whose values differ, sorted by name.
    public static func changes(from old: [String: String], to new: [String: String]) -> [OptionChange] {
        Set(old.keys).union(new.keys).sorted().compactMap { name in
            old[name] == new[name] ? nil : OptionChange(name: name, old: old[name], new: new[name])
        }
    }

    /// Records the options in `directory`, or checks them against those recorded by an earlier run.
    ///
    /// Throws `OptionsLockError.optionsChanged`, listing every changed option as old -> new, when the
    /// recorded fingerprint differs.
    public static func acquire(directory: URL, options: [String: String], metadata: [String: String] = [:],
                               fileName: String = defaultFileName) throws -> OptionsLock {
        let url = directory.appendingPathComponent(fileName)
        let hash = fingerprint(options)

        if FileManager.default.fileExists(atPath: url.path) {
            let stored = try readStored(url)
            guard stored.hash == hash else {
                var changes = Self.changes(from: stored.options, to: options)
                if changes.isEmpty {
                    // The file was edited by hand or written by another version of the encoding.
                    changes = [OptionChange(name: "options_hash", old: stored.hash, new: hash)]
                }
                throw OptionsLockError.optionsChanged(path: url.path, changes: changes)
            }
            return OptionsLock(url: url, options: options, hash: hash, resumed: true)
        }

        let document: [String: Any] = [
            "format": formatVersion,
            "options_hash": hash,
            "options": options,
            "metadata": metadata,
            "created_at": ISO8601DateFormatter().string(from: Date()),
        ]
        do {
            let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: url, options: .atomic)
        } catch {
            throw OptionsLockError.writeFailed(path: url.path, reason: "\(error)")
        }
        ResultJournal.syncDirectory(of: url)
        return OptionsLock(url: url, options: options, hash: hash, resumed: false)
    }

    private static func readStored(_ url: URL) throws -> (hash: String, options: [String: String]) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: try Data(contentsOf: url))
        } catch {
            throw OptionsLockError.unreadable(path: url.path, reason: "not valid JSON (\(error))")
        }
        guard let document = object as? [String: Any],
              let hash = document["options_hash"] as? String,
              let options = document["options"] as? [String: String] else {
            throw OptionsLockError.unreadable(path: url.path,
                                              reason: "expected a JSON object with 'options_hash' and string 'options'")
        }
        return (hash, options)
    }
}
