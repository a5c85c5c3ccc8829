// Multi-rank test program for the Cluster target, started by ClusterTests under mpirun.
//
// Every rank runs the work scheduler over synthetic items whose work is a fixed integer computation
// followed by a sleep. Rank 0 journals the results in --save-dir as a benchmark runner does, so tests
// can kill ranks mid-run and check that a rerun resumes without gaps or duplicates.
import Cluster
import Foundation

struct SelfTestOptions {
    var saveDirectory = ""
    var items = 12
    var sleepMilliseconds = 50
    var failEvery = 0
    var heartbeatTimeout = 30.0
    var variant = "default"

    static let usage = """
        usage: cluster-selftest --save-dir DIR [--items N] [--sleep-ms MS] [--fail-every K]
                                [--heartbeat-timeout SECONDS] [--variant NAME]
        Runs N synthetic items across the MPI ranks and appends their results to DIR/results.jsonl.
        Items whose index is a multiple of K (K > 0) fail on purpose. --variant changes the recorded
        options, to test that a resume with other options is rejected.
        """

    init(arguments: [String]) throws {
        var remaining = arguments[...]
        func value(_ name: String) throws -> String {
            guard let next = remaining.popFirst() else { throw SelfTestError.usage("\(name) needs a value") }
            return next
        }
        func integer(_ name: String) throws -> Int {
            let text = try value(name)
            guard let number = Int(text), number >= 0 else {
                throw SelfTestError.usage("\(name) must be a non-negative integer, got '\(text)'")
            }
            return number
        }
        while let argument = remaining.popFirst() {
            switch argument {
            case "--save-dir": saveDirectory = try value(argument)
            case "--items": items = try integer(argument)
            case "--sleep-ms": sleepMilliseconds = try integer(argument)
            case "--fail-every": failEvery = try integer(argument)
            case "--heartbeat-timeout":
                let text = try value(argument)
                guard let seconds = Double(text), seconds > 0 else {
                    throw SelfTestError.usage("--heartbeat-timeout must be a positive number of seconds, got '\(text)'")
                }
                heartbeatTimeout = seconds
            case "--variant": variant = try value(argument)
            default: throw SelfTestError.usage("unknown argument '\(argument)'")
            }
        }
        guard !saveDirectory.isEmpty else { throw SelfTestError.usage("--save-dir is required") }
    }
}

enum SelfTestError: Error, CustomStringConvertible {
    case usage(String)
    case plannedFailure(String)

    var description: String {
        switch self {
        case .usage(let message): return "\(message)\n\(SelfTestOptions.usage)"
        case .plannedFailure(let id): return "planned failure of \(id)"
        }
    }
}

/// The journal line of one item.
struct Record: Codable {
    let id: String
    let rank: Int
    let seconds: Double
    let value: String?
    let error: String?
}

/// A deterministic stand-in for model work: 100,000 steps of a 64-bit linear congruential generator.
func syntheticValue(index: Int) -> UInt64 {
    var state = UInt64(index) &+ 0x9E37_79B9_7F4A_7C15
    for _ in 0..<100_000 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
    return state
}

func run(_ options: SelfTestOptions, context: MPIContext) throws {
    let directory = URL(fileURLWithPath: options.saveDirectory)
    let pidDirectory = directory.appendingPathComponent("pids")
    try FileManager.default.createDirectory(at: pidDirectory, withIntermediateDirectories: true)
    try "\(getpid())\n".write(to: pidDirectory.appendingPathComponent("rank-\(context.rank).pid"), atomically: true,
                              encoding: .utf8)

    let items = (0..<options.items).map { index in
        // Costs repeat, so that ties exercise the id order.
        WorkItem(id: String(format: "item-%04d", index), cost: Double((index * 7) % 5 + 1),
                 payload: Data(String(index).utf8))
    }

    let journal = try context.onCoordinator { () throws -> ResultJournal in
        _ = try OptionsLock.acquire(directory: directory,
                                    options: ["items": String(options.items), "variant": options.variant],
                                    metadata: ["ranks": String(context.size)])
        return try ResultJournal(url: directory.appendingPathComponent("results.jsonl"))
    }
    let pending = items.filter { !(journal?.recordedIDs.contains($0.id) ?? false) }
    let progress = journal.map { journal in
        ProgressReporter(label: "items", total: items.count, alreadyDone: items.count - pending.count)
    }

    let scheduler = WorkScheduler(context: context,
                                  configuration: .init(heartbeatInterval: min(1, options.heartbeatTimeout / 4),
                                                       heartbeatTimeout: options.heartbeatTimeout,
                                                       logPrefix: "cluster-selftest"))
    let summary = try scheduler.run(items: pending, work: { item in
        let index = Int(String(decoding: item.payload, as: UTF8.self))!
        let value = syntheticValue(index: index)
        usleep(UInt32(options.sleepMilliseconds * 1000))
        if options.failEvery > 0 && index % options.failEvery == 0 { throw SelfTestError.plannedFailure(item.id) }
        return Data(String(value).utf8)
    }, onResult: { result in
        var value: String?
        var error: String?
        switch result.outcome {
        case .success(let bytes): value = String(decoding: bytes, as: UTF8.self)
        case .failure(let message): error = message
        }
        try journal!.append(Record(id: result.item.id, rank: result.rank, seconds: result.seconds, value: value,
                                   error: error))
        progress?.record(cost: 1, failed: error != nil)
    })

    if context.isCoordinator {
        progress?.finish()
        let ranks = summary.itemsPerRank.map(String.init).joined(separator: ",")
        print("selftest: ranks \(context.size), ran \(summary.succeeded + summary.failed) items "
            + "(\(summary.succeeded) succeeded, \(summary.failed) failed), per rank [\(ranks)]")
    }
}

let context: MPIContext
do {
    context = try MPIContext.initialize()
} catch {
    FileHandle.standardError.write(Data("cluster-selftest: MPI initialization failed: \(error)\n".utf8))
    exit(1)
}
do {
    let options = try SelfTestOptions(arguments: Array(CommandLine.arguments.dropFirst()))
    try run(options, context: context)
    try context.finalize()
} catch {
    // Every rank reaches this for an error on rank 0, but only rank 0 reports it.
    if context.isCoordinator { FileHandle.standardError.write(Data("cluster-selftest: \(error)\n".utf8)) }
    try? context.finalize()
    exit(2)
}
