import Foundation
import KVPolicies
import Pipeline

/// One work item of a run, such as a needle cell or a LongBench sample.
struct RunItem: Equatable {
    /// Unique within its run; stored as the "id" field of the item's journal record.
    let id: String
    /// Relative cost, such as the prompt length in tokens; the most expensive items are handed out first.
    let cost: Double
}

/// A benchmark run as `RunDriver` sees it: a results directory filled from items that any rank can compute.
///
/// Every rank builds the same runs from the same arguments, so only item ids travel between ranks.
/// `perform` runs on any rank; every other requirement runs on rank 0 only.
protocol BenchmarkRun: AnyObject {
    /// Name used in messages and in scheduler ids, such as "snapkv_128".
    var name: String { get }
    var directory: URL { get }
    /// Directory of the journal, run_options.json and run_meta.json. It is `directory` unless runs share an
    /// output directory, as LongBench runs of several methods at one budget do.
    var stateDirectory: URL { get }
    /// Options that can change the results, as canonical strings. Their hash is stored, and a resume with
    /// different values is rejected.
    var resultOptions: [String: String] { get }
    /// Deliberate differences from the reference implementation, recorded in run_meta.json.
    var deviations: [String] { get }
    var items: [RunItem] { get }

    /// Computes one item and returns its journal record: one JSON object in UTF-8 without a newline, whose
    /// "id" is `item.id` and whose "error" is null or absent.
    func perform(_ item: RunItem, rank: Int) throws -> Data
    /// Returns the journal record of an item whose work threw `error` on `rank`, with a non-null "error".
    func failureRecord(_ item: RunItem, error: String, rank: Int, seconds: Double) throws -> Data
    /// Receives each successful record once it is durable in the journal, for per-item files.
    func didRecord(_ record: Data) throws
    /// Writes the run's summary files from the latest record of each item id and returns the paths to show.
    func finish(records: [String: Data]) throws -> [String]
    /// Text for the progress line after this run recorded an item, such as running scores; nil for none.
    var progressDetail: String? { get }
    /// Runs after the driver wrote run_meta.json into `stateDirectory`, at the start and at the end of a session.
    func didWriteMetadata() throws
    /// The engine whose model this rank holds, shared by the runs of a job.
    var pipelineEngine: PipelineEngine { get }
    /// Builds this rank's policy for a sequence that a pipeline's first stage started with `header`; it must
    /// equal the policy that `perform` built there.
    func stagePolicy(for header: SequenceHeader) throws -> CachePolicy?
}

extension BenchmarkRun {
    var stateDirectory: URL { directory }
    func didRecord(_ record: Data) throws {}
    var progressDetail: String? { nil }
    func didWriteMetadata() throws {}
}
