import Foundation

/// Subcommands: name, one-line summary, help text and entry point.
let subcommands: [(name: String, summary: String, help: String, run: ([String]) throws -> Void)] = [
    ("inspect", "print a GGUF file's metadata, tensors and memory needs", InspectCommand.help,
     { try InspectCommand.run(ParsedOptions(command: "inspect", arguments: $0, specs: InspectCommand.specs)) }),
    ("tokenize", "print token ids of a text, or decode ids", TokenizeCommand.help,
     { try TokenizeCommand.run(ParsedOptions(command: "tokenize", arguments: $0, specs: TokenizeCommand.specs)) }),
    ("generate", "generate text from a prompt or a chat message", GenerateCommand.help, GenerateCommand.run),
    ("logits", "write logits and greedy tokens for numeric comparison", LogitsCommand.help, LogitsCommand.run),
    ("bench", "measure prefill and decode speed and KV-cache memory", BenchCommand.help, BenchCommand.run),
    ("bench-activations", "measure activation compression on hidden states at a stage boundary", ActivationBenchCommand.help, ActivationBenchCommand.run),
    ("needle", "run a needle-in-a-haystack sweep of one method, alone or under mpirun", NeedleCommand.help, NeedleCommand.run),
    ("longbench", "generate LongBench answers with one method and budget, alone or under mpirun", LongBenchCommand.help,
     LongBenchCommand.run),
    ("score", "score LongBench predictions of a run folder and write results.json and results.csv", ScoreCommand.help,
     ScoreCommand.run),
    ("sweep", "run the runs of a JSON job file as one job, alone or under mpirun", SweepCommand.help, SweepCommand.run),
    ("kvprobe", "apply a method to one layer's Q/K/V and write the kept positions", KVProbeCommand.help, KVProbeCommand.run),
    ("headscores", "compute retrieval-head scores for HeadKV by needle probing", HeadScoresCommand.help, HeadScoresCommand.run),
]

func topLevelHelp() -> String {
    var lines = ["usage: kvfactory <command> [options]", "",
                 "Evaluate KV-cache compression methods on long-context benchmarks with GGUF models on CPU.", "", "commands:"]
    for command in subcommands {
        lines.append("  " + command.name.padding(toLength: max(12, command.name.count + 1), withPad: " ", startingAt: 0) + command.summary)
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
    try command.run(arguments)
} catch let error as UsageError {
    printError("kvfactory \(command.name): \(error)")
    exit(2)
} catch {
    printError("kvfactory \(command.name): error: \(error)")
    exit(1)
}
