import Foundation

/// A usage error: an unknown flag, a missing or malformed value. The tool exits with code 2.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    let command: String
    var description: String { "\(message)\nRun 'kvfactory \(command) --help' for the options." }
}

/// A failure while running a command on valid arguments. The tool exits with code 1.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// One option a subcommand accepts.
struct OptionSpec {
    enum Kind { case value, flag }
    let name: String
    let kind: Kind
    let placeholder: String
    let help: String
    var aliases: [String] = []

    static func value(_ name: String, _ placeholder: String, _ help: String, aliases: [String] = []) -> OptionSpec {
        OptionSpec(name: name, kind: .value, placeholder: placeholder, help: help, aliases: aliases)
    }

    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .flag, placeholder: "", help: help)
    }
}

/// Parsed `--name value` and `--name` options of one subcommand.
struct ParsedOptions {
    let command: String
    private(set) var values: [String: String] = [:]
    private(set) var flags: Set<String> = []
    /// Every option as given, in order, for run metadata.
    private(set) var given: [(String, String?)] = []

    /// Parses `arguments` against `specs`. Accepts `--name value` and `--name=value`.
    init(command: String, arguments: [String], specs: [OptionSpec]) throws {
        self.command = command
        var lookup: [String: OptionSpec] = [:]
        for spec in specs {
            lookup[spec.name] = spec
            for alias in spec.aliases { lookup[alias] = spec }
        }
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw UsageError(message: "unexpected argument '\(argument)'; options start with --", command: command)
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = lookup[name] else {
                throw UsageError(message: "unknown option --\(name)", command: command)
            }
            switch spec.kind {
            case .flag:
                guard inlineValue == nil else {
                    throw UsageError(message: "option --\(name) takes no value", command: command)
                }
                flags.insert(spec.name)
                given.append((spec.name, nil))
            case .value:
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    index += 1
                    guard index < arguments.count else {
                        throw UsageError(message: "option --\(name) needs a value (\(spec.placeholder))", command: command)
                    }
                    value = arguments[index]
                }
                values[spec.name] = value
                given.append((spec.name, value))
            }
            index += 1
        }
    }

    func string(_ name: String) -> String? { values[name] }

    func has(_ name: String) -> Bool { flags.contains(name) }

    func int(_ name: String) throws -> Int? {
        guard let raw = values[name] else { return nil }
        guard let value = Int(raw) else {
            throw UsageError(message: "option --\(name) needs an integer, got '\(raw)'", command: command)
        }
        return value
    }

    func int(_ name: String, default fallback: Int, minimum: Int = Int.min) throws -> Int {
        let value = try int(name) ?? fallback
        guard value >= minimum else {
            throw UsageError(message: "option --\(name) must be at least \(minimum), got \(value)", command: command)
        }
        return value
    }

    func double(_ name: String) throws -> Double? {
        guard let raw = values[name] else { return nil }
        guard let value = Double(raw), value.isFinite else {
            throw UsageError(message: "option --\(name) needs a number, got '\(raw)'", command: command)
        }
        return value
    }

    func require(_ name: String) throws -> String {
        guard let value = values[name] else {
            throw UsageError(message: "missing required option --\(name)", command: command)
        }
        return value
    }

    /// Options as `[name: value]` with flags mapped to "true", for run metadata.
    var asDictionary: [String: String] {
        var result = values
        for flag in flags { result[flag] = "true" }
        return result
    }
}

/// Formats the help text of a subcommand.
func helpText(command: String, synopsis: String, summary: String, specs: [OptionSpec]) -> String {
    var lines = ["usage: kvfactory \(command) \(synopsis)", "", summary, "", "options:"]
    let rendered = specs.map { spec -> (String, String) in
        var left = "  --\(spec.name)"
        if spec.kind == .value { left += " \(spec.placeholder)" }
        var help = spec.help
        if !spec.aliases.isEmpty { help += " (alias: " + spec.aliases.map { "--\($0)" }.joined(separator: ", ") + ")" }
        return (left, help)
    }
    let width = min(36, (rendered.map(\.0.count).max() ?? 0) + 2)
    for (left, help) in rendered {
        if left.count + 2 > width {
            lines.append(left)
            lines.append(String(repeating: " ", count: width) + help)
        } else {
            lines.append(left.padding(toLength: width, withPad: " ", startingAt: 0) + help)
        }
    }
    lines.append("  --help".padding(toLength: width, withPad: " ", startingAt: 0) + "show this help")
    return lines.joined(separator: "\n")
}
