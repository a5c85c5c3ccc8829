import Foundation

/// HeadKV's head-importance table: one score per (layer, query head), read from a JSON object whose keys are
/// "layer-head" strings and whose values are lists of per-probe scores (or single numbers). A head's score is
/// the mean of its list, and the table stores each head's share of the total.
public struct HeadScoreTable: Equatable, Sendable {
    public let layerCount: Int
    public let headCount: Int
    /// Row-major `[layerCount, headCount]` shares; they sum to 1.
    public let shares: [Double]

    /// Largest table file accepted; real tables are a few hundred kilobytes.
    static let maxFileBytes = 256 << 20

    public init(layerCount: Int, headCount: Int, scores: [Double]) throws {
        guard layerCount > 0, headCount > 0, scores.count == layerCount * headCount else {
            throw PolicyError.invalidModelShape("a head-score table of \(layerCount) x \(headCount) needs that many scores, got \(scores.count)")
        }
        let total = scores.reduce(0, +)
        guard total > 0, total.isFinite else {
            throw PolicyError.malformedHeadScores(path: "<memory>", detail: "the scores sum to \(total); at least one head needs a positive score")
        }
        self.layerCount = layerCount
        self.headCount = headCount
        shares = scores.map { $0 / total }
    }

    /// Loads and validates a table against the model's layer and query-head counts.
    public static func load(path: String, layerCount: Int, headCount: Int) throws -> HeadScoreTable {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw PolicyError.headScoreFileNotFound(path: path)
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > maxFileBytes {
            throw PolicyError.malformedHeadScores(path: path, detail: "the file has \(size) bytes, more than the \(maxFileBytes) a table can have")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw PolicyError.malformedHeadScores(path: path, detail: "cannot read it: \(error.localizedDescription)")
        }
        return try parse(data, path: path, layerCount: layerCount, headCount: headCount)
    }

    static func parse(_ data: Data, path: String, layerCount: Int, headCount: Int) throws -> HeadScoreTable {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw PolicyError.malformedHeadScores(path: path, detail: "not valid JSON (\(error.localizedDescription))")
        }
        guard let entries = object as? [String: Any] else {
            throw PolicyError.malformedHeadScores(path: path, detail: "the top level must be an object with \"layer-head\" keys")
        }

        var scores: [Int: Double] = [:]
        var maxLayer = -1
        var maxHead = -1
        for (key, value) in entries {
            let parts = key.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let layer = Int(parts[0]), let head = Int(parts[1]), layer >= 0, head >= 0 else {
                throw PolicyError.malformedHeadScores(path: path, detail: "key \"\(key)\" is not of the form \"layer-head\"")
            }
            maxLayer = max(maxLayer, layer)
            maxHead = max(maxHead, head)
            scores[layer * 1_000_000 + head] = try meanScore(value, key: key, path: path)
        }
        guard !scores.isEmpty else {
            throw PolicyError.malformedHeadScores(path: path, detail: "the table has no entries")
        }
        let tableLayers = maxLayer + 1
        let tableHeads = maxHead + 1
        guard tableLayers == layerCount, tableHeads == headCount else {
            throw PolicyError.headScoreShapeMismatch(path: path, tableLayers: tableLayers, tableHeads: tableHeads,
                                                     modelLayers: layerCount, modelHeads: headCount)
        }

        var ordered: [Double] = []
        ordered.reserveCapacity(layerCount * headCount)
        for layer in 0..<layerCount {
            for head in 0..<headCount {
                guard let score = scores[layer * 1_000_000 + head] else {
                    throw PolicyError.malformedHeadScores(path: path, detail: "the entry \"\(layer)-\(head)\" is missing")
                }
                ordered.append(score)
            }
        }
        do {
            return try HeadScoreTable(layerCount: layerCount, headCount: headCount, scores: ordered)
        } catch PolicyError.malformedHeadScores(_, let detail) {
            throw PolicyError.malformedHeadScores(path: path, detail: detail)
        }
    }

    private static func meanScore(_ value: Any, key: String, path: String) throws -> Double {
        let numbers: [Any]
        if let list = value as? [Any] {
            numbers = list
        } else {
            numbers = [value]
        }
        guard !numbers.isEmpty else {
            throw PolicyError.malformedHeadScores(path: path, detail: "entry \"\(key)\" has an empty score list")
        }
        var sum = 0.0
        for element in numbers {
            // JSONSerialization yields NSNumber for numbers and also for true/false (type code "c"), rejected here.
            guard let number = element as? NSNumber, String(cString: number.objCType) != "c" else {
                throw PolicyError.malformedHeadScores(path: path, detail: "entry \"\(key)\" contains \(element), which is not a number")
            }
            let score = number.doubleValue
            guard score.isFinite, score >= 0 else {
                throw PolicyError.malformedHeadScores(path: path, detail: "entry \"\(key)\" contains the score \(score), but scores must be finite and non-negative")
            }
            sum += score
        }
        return sum / Double(numbers.count)
    }

    /// Selected tokens per (layer, query head) at budget B, as KVCache-Factory's LongBench runner computes them:
    /// pool = floor(B / beta) * L * H, k = round(share * pool + B - floor(B / beta)), rounding half to even.
    /// The sum over heads is about L * H * B, and each head also keeps the w window tokens.
    public func capacities(budget: Int, beta: Double) -> [[Int]] {
        let perHead = (Double(budget) / beta).rounded(.down)
        let pool = perHead * Double(layerCount * headCount)
        let minimum = Double(budget) - perHead
        return (0..<layerCount).map { layer in
            (0..<headCount).map { head in
                Int((shares[layer * headCount + head] * pool + minimum).rounded(.toNearestOrEven))
            }
        }
    }
}
