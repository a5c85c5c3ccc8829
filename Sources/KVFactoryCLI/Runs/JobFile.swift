import Foundation
import KVPolicies

/// An invalid job file: the file, the field at fault and what to change.
struct JobFileError: Error, CustomStringConvertible {
    let path: String
    let message: String
    var description: String { "job file \(path): \(message)" }
}

/// A JSON job file: several runs of one benchmark with one model, run as one MPI job by `kvfactory sweep`.
///
/// Schema (docs/jobs.md has the full description and an example):
///
///     {
///       "benchmark": "needle",                      required; a benchmark that `kvfactory sweep` runs
///       "save_dir": "results/needle-smollm2",       required; each run writes into <save_dir>/<run name>/
///       "model_path": "models/model.gguf",          optional; the default model otherwise
///       "settings": {"s_len": 1000, ...},           optional; the benchmark command's own options
///       "options": {"window_size": 8},              optional; policy options for every run
///       "grid": {"methods": [...], "budgets": [...]},  methods x budgets
///       "runs": [{"method": "snapkv", "budget": 128, "options": {...}, "name": "..."}]
///     }
///
/// At least one of "grid" and "runs" is required, and both may be given. Option values are strings,
/// numbers, booleans or arrays (joined with commas), with the names of the command-line options without
/// the leading "--". Relative paths are relative to the working directory, as on the command line.
struct JobFile {
    /// One run of the job.
    struct Run: Equatable {
        /// Directory name under save_dir: "<method>_<budget>", "fullkv_full" for FullKV, or the given name.
        let name: String
        /// Canonical method name, such as "snapkv".
        let method: String
        /// Tokens kept per head and layer; nil for FullKV and for runs that give a budget ratio.
        let budget: Int?
        /// Options given for this run only, as (name, value) pairs sorted by name.
        let options: [(String, String)]

        static func == (lhs: Run, rhs: Run) -> Bool {
            lhs.name == rhs.name && lhs.method == rhs.method && lhs.budget == rhs.budget
                && lhs.options.map { "\($0.0)=\($0.1)" } == rhs.options.map { "\($0.0)=\($0.1)" }
        }
    }

    static let topLevelKeys: Set<String> = ["benchmark", "save_dir", "model_path", "settings", "options", "grid", "runs", "description"]
    /// Options that the job file sets through its own fields, so they may not appear among the options.
    static let reservedOptions: Set<String> = ["model_path", "save_dir", "method", "max_capacity_prompt", "max_capacity_prompts"]

    let path: String
    let benchmark: String
    let saveDirectory: String
    let modelPath: String?
    /// The benchmark's own options, as (name, value) pairs sorted by name.
    let settings: [(String, String)]
    /// Policy options shared by every run, as (name, value) pairs sorted by name.
    let sharedOptions: [(String, String)]
    let runs: [Run]
    /// Settings and options given on the sweep command line, which override the file's in every run.
    var overrides: [(String, String)] = []

    /// Reads and checks a job file; `benchmarks` lists the benchmark names this build can run.
    init(path: String, benchmarks: [String]) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw JobFileError(path: path, message: "file not found; pass the path of a job file such as jobs/needle-smollm2.json")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JobFileError(path: path, message: "cannot read the file; check its permissions")
        }
        let parsed: JSONValue
        do {
            parsed = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw JobFileError(path: path, message: "not valid JSON (\(Self.describeJSONError(error, data: data))); fix the syntax")
        }
        guard case .object(let document) = parsed else {
            throw JobFileError(path: path, message: "the top level must be a JSON object with \"benchmark\", \"save_dir\" and \"runs\" or \"grid\"")
        }
        let unknown = Set(document.keys).subtracting(Self.topLevelKeys)
        guard unknown.isEmpty else {
            throw JobFileError(path: path, message: "unknown field\(unknown.count == 1 ? "" : "s") "
                + unknown.sorted().map { "\"\($0)\"" }.joined(separator: ", ") + "; the fields are "
                + Self.topLevelKeys.sorted().joined(separator: ", "))
        }

        guard case .string(let benchmark)? = document["benchmark"] else {
            throw JobFileError(path: path, message: "missing string field \"benchmark\"; use one of \(benchmarks.joined(separator: ", "))")
        }
        guard benchmarks.contains(benchmark) else {
            throw JobFileError(path: path, message: "unknown benchmark \"\(benchmark)\"; use one of \(benchmarks.joined(separator: ", "))")
        }
        self.benchmark = benchmark
        guard case .string(let saveDirectory)? = document["save_dir"], !saveDirectory.isEmpty else {
            throw JobFileError(path: path, message: "missing string field \"save_dir\", the directory that receives one folder per run")
        }
        self.saveDirectory = saveDirectory
        if let model = document["model_path"], model != .null {
            guard case .string(let model) = model, !model.isEmpty else {
                throw JobFileError(path: path, message: "\"model_path\" must be a non-empty string")
            }
            modelPath = model
        } else {
            modelPath = nil
        }

        settings = try Self.optionPairs(document["settings"], field: "settings", path: path)
        sharedOptions = try Self.optionPairs(document["options"], field: "options", path: path)

        var runs: [Run] = []
        if let grid = document["grid"] {
            runs += try Self.gridRuns(grid, path: path)
        }
        if let list = document["runs"] {
            guard case .array(let list) = list else {
                throw JobFileError(path: path, message: "\"runs\" must be an array of objects such as {\"method\": \"snapkv\", \"budget\": 128}")
            }
            for (index, entry) in list.enumerated() {
                runs.append(try Self.listedRun(entry, index: index, path: path))
            }
        }
        guard !runs.isEmpty else {
            throw JobFileError(path: path, message: "no runs: add \"runs\" (a list of {\"method\", \"budget\"}) or \"grid\" ({\"methods\", \"budgets\"})")
        }
        var seen = Set<String>()
        for run in runs where !seen.insert(run.name).inserted {
            throw JobFileError(path: path, message: "two runs write to the same directory \"\(run.name)\"; "
                + "give one of them another method, budget or \"name\"")
        }
        self.runs = runs
    }

    /// Returns the directory of one run.
    func directory(of run: Run) -> URL {
        URL(fileURLWithPath: saveDirectory).appendingPathComponent(run.name)
    }

    /// Command-line arguments of one run for the benchmark command, without --save_dir and --model_path:
    /// the settings, then the shared options, then the run's own options, then the command-line overrides,
    /// then its method and budget. Later values override earlier ones, as on the command line.
    func arguments(of run: Run) -> [String] {
        var arguments: [String] = []
        for (name, value) in settings + sharedOptions + run.options + overrides {
            arguments += ["--\(name)", value]
        }
        arguments += ["--method", run.method]
        if let budget = run.budget { arguments += ["--max_capacity_prompts", String(budget)] }
        return arguments
    }

    // MARK: Parsing

    private static func gridRuns(_ grid: JSONValue, path: String) throws -> [Run] {
        guard case .object(let grid) = grid else {
            throw JobFileError(path: path, message: "\"grid\" must be an object such as {\"methods\": [\"fullkv\", \"snapkv\"], \"budgets\": [128]}")
        }
        let unknown = Set(grid.keys).subtracting(["methods", "budgets", "options"])
        guard unknown.isEmpty else {
            throw JobFileError(path: path, message: "unknown field in \"grid\": " + unknown.sorted().joined(separator: ", ")
                + "; the fields are methods, budgets and options")
        }
        guard case .array(let methodValues)? = grid["methods"], !methodValues.isEmpty else {
            throw JobFileError(path: path, message: "\"grid.methods\" must be a non-empty array of method names")
        }
        let methods = methodValues.compactMap(\.stringValue)
        guard methods.count == methodValues.count else {
            throw JobFileError(path: path, message: "\"grid.methods\" must contain only method names (strings)")
        }
        var budgetValues: [JSONValue] = []
        if let budgets = grid["budgets"] {
            guard case .array(let values) = budgets else {
                throw JobFileError(path: path, message: "\"grid.budgets\" must be an array of budgets in tokens, such as [128, 256]")
            }
            budgetValues = values
        }
        let budgets = try budgetValues.map { try budget($0, field: "grid.budgets", path: path) }
        let options = try optionPairs(grid["options"], field: "grid.options", path: path)

        var runs: [Run] = []
        for name in methods {
            let method = try canonicalMethod(name, field: "grid.methods", path: path)
            if method == "fullkv" {
                // FullKV ignores the budget, so the grid runs it once.
                if !runs.contains(where: { $0.method == "fullkv" }) {
                    runs.append(Run(name: runName(method: method, budget: nil, options: options), method: method, budget: nil, options: options))
                }
                continue
            }
            guard !budgets.isEmpty else {
                throw JobFileError(path: path, message: "\"grid.budgets\" must list at least one budget for method \(name)")
            }
            for budget in budgets {
                runs.append(Run(name: runName(method: method, budget: budget, options: options), method: method, budget: budget, options: options))
            }
        }
        return runs
    }

    private static func listedRun(_ entry: JSONValue, index: Int, path: String) throws -> Run {
        let field = "runs[\(index)]"
        guard case .object(let entry) = entry else {
            throw JobFileError(path: path, message: "\(field) must be an object such as {\"method\": \"snapkv\", \"budget\": 128}")
        }
        let unknown = Set(entry.keys).subtracting(["method", "budget", "options", "name"])
        guard unknown.isEmpty else {
            throw JobFileError(path: path, message: "unknown field in \(field): " + unknown.sorted().joined(separator: ", ")
                + "; the fields are method, budget, options and name")
        }
        guard case .string(let methodName)? = entry["method"] else {
            throw JobFileError(path: path, message: "\(field) has no string \"method\"")
        }
        let method = try canonicalMethod(methodName, field: "\(field).method", path: path)
        let options = try optionPairs(entry["options"], field: "\(field).options", path: path)
        var budget: Int?
        if method != "fullkv", let value = entry["budget"], value != .null {
            budget = try Self.budget(value, field: "\(field).budget", path: path)
        }
        if method != "fullkv" && budget == nil && !options.contains(where: { $0.0 == "max_capacity_prompts_ratio" }) {
            throw JobFileError(path: path, message: "\(field) (\(methodName)) has no \"budget\"; give the tokens kept per head "
                + "and layer, such as \"budget\": 128, or \"max_capacity_prompts_ratio\" in its options")
        }

        var name = runName(method: method, budget: budget, options: options)
        if let given = entry["name"] {
            guard case .string(let given) = given, !given.isEmpty, given != ".", given != "..", !given.contains("/") else {
                throw JobFileError(path: path, message: "\(field).name must be a non-empty directory name without \"/\"")
            }
            name = given
        }
        return Run(name: name, method: method, budget: budget, options: options)
    }

    /// "<method>_<budget>", "<method>_ratio<r>" for a budget ratio, or "fullkv_full" for FullKV.
    static func runName(method: String, budget: Int?, options: [(String, String)]) -> String {
        if method == "fullkv" { return "fullkv_full" }
        if let budget { return "\(method)_\(budget)" }
        let ratio = options.last { $0.0 == "max_capacity_prompts_ratio" }?.1 ?? "default"
        return "\(method)_ratio\(ratio)"
    }

    /// Canonical method name; "full" is accepted for "fullkv", as the reference needle runner spells it.
    private static func canonicalMethod(_ name: String, field: String, path: String) throws -> String {
        if name.lowercased() == "full" { return "fullkv" }
        guard MethodRegistry.names.contains(name.lowercased()) else {
            throw JobFileError(path: path, message: "\(field): unknown method \"\(name)\"; use one of "
                + MethodRegistry.names.joined(separator: ", "))
        }
        return name.lowercased()
    }

    private static func budget(_ value: JSONValue, field: String, path: String) throws -> Int {
        guard case .number(let number) = value, let budget = Int(exactly: number), budget >= 1 else {
            throw JobFileError(path: path, message: "\(field): budget \(value.jsonText) is not a positive integer number of tokens")
        }
        return budget
    }

    /// Converts an options object to (name, value) pairs sorted by name.
    private static func optionPairs(_ value: JSONValue?, field: String, path: String) throws -> [(String, String)] {
        guard let value, value != .null else { return [] }
        guard case .object(let object) = value else {
            throw JobFileError(path: path, message: "\"\(field)\" must be an object of option names and values, such as {\"s_len\": 1000}")
        }
        var pairs: [(String, String)] = []
        for name in object.keys.sorted() {
            let option = name.hasPrefix("--") ? String(name.dropFirst(2)) : name
            guard !reservedOptions.contains(option) else {
                throw JobFileError(path: path, message: "\(field) sets \"\(option)\", which the job file sets elsewhere: "
                    + "use the top-level \"model_path\" and \"save_dir\", and each run's \"method\" and \"budget\"")
            }
            guard let text = object[name]!.text else {
                throw JobFileError(path: path, message: "\(field).\(name) must be a string, number, boolean or array of them")
            }
            pairs.append((option, text))
        }
        return pairs
    }

    /// Returns the parser's own account of a syntax error, which names the position, when it has one.
    private static func describeJSONError(_ error: Error, data: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            if let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        }
        if case DecodingError.dataCorrupted(let context) = error { return context.debugDescription }
        return String(describing: error)
    }
}

/// A JSON value, decoded strictly: `true` is never a number and `1` is never a boolean.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The value as written in JSON, for messages: strings in quotes, arrays and objects abbreviated.
    var jsonText: String {
        switch self {
        case .string(let value): return "\"\(value)\""
        case .array: return "[...]"
        case .object: return "{...}"
        default: return text ?? "null"
        }
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value as a command-line option value: arrays joined with commas; nil for null and objects.
    var text: String? {
        switch self {
        case .null, .object: return nil
        case .bool(let value): return value ? "true" : "false"
        case .number(let value):
            if let integer = Int(exactly: value) { return String(integer) }
            return String(value)
        case .string(let value): return value
        case .array(let values):
            let parts = values.compactMap(\.text)
            return parts.count == values.count ? parts.joined(separator: ",") : nil
        }
    }
}
