import Foundation

/// Subcommands: name, one-line summary, help text and entry point.
let subcommands: [(name: String, summary: String, help: String, run: (ParsedOptions) throws -> Void, specs: [OptionSpec])] = [
    ("inspect", "print a GGUF file's metadata, tensors and memory needs", InspectCommand.help, InspectCommand.run, InspectCommand.specs),
]

func topLevelHelp() -> String {
    var lines = ["usage: kvfactory <command> [options]", "",
                 "Evaluate KV-cache compression methods on long-context benchmarks with GGUF models on CPU.", "", "commands:"]
    for command in subcommands {
        lines.append("  " + command.name.padding(toLength: 12, withPad: " ", startingAt: 0) + command.summary)
    }
    lines.append("")
    lines.append("Run 'kvfactory <command> --help' for a command's options.")
    return lines.joined(separator: "\n")
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let commandName = arguments.first else {
    printError(topLevelHelp())
    exit(2)
}
if commandName == "--help" || commandName == "-h" || commandName == "help" {
    print(topLevelHelp())
    exit(0)
}
guard let command = subcommands.first(where: { $0.name == commandName }) else {
    printError("kvfactory: unknown command '\(commandName)'\n\n" + topLevelHelp())
    exit(2)
}
arguments.removeFirst()
if arguments.contains("--help") || arguments.contains("-h") {
    print(command.help)
    exit(0)
}

do {
    let options = try ParsedOptions(command: command.name, arguments: arguments, specs: command.specs)
    try command.run(options)
} catch let error as UsageError {
    printError("kvfactory \(command.name): \(error)")
    exit(2)
} catch {
    printError("kvfactory \(command.name): error: \(error)")
    exit(1)
}
