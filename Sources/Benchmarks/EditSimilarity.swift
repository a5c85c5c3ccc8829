/// LongBench's code edit similarity (lcc, repobench-p): `fuzzywuzzy.fuzz.ratio` with
/// python-Levenshtein installed, over the first line of the prediction that is not a comment.
public enum EditSimilarity {
    /// Returns the LongBench code score in [0, 1]: `fuzzRatio(firstCodeLine, groundTruth) / 100`.
    public static func codeScore(prediction: String, groundTruth: String) -> Double {
        let line = firstCodeLine(of: PythonText.scalars(prediction))
        return Double(fuzzRatio(line, PythonText.scalars(groundTruth))) / 100
    }

    /// Returns the first line that contains none of "`", "#" and "//", after leading newlines
    /// are stripped, or an empty line when every line has one. A line holding a URL such as
    /// "http://..." contains "//", so it is skipped too, as in the reference.
    static func firstCodeLine(of prediction: [Unicode.Scalar]) -> [Unicode.Scalar] {
        let start = prediction.firstIndex { $0 != "\n" } ?? prediction.endIndex
        let lines = PythonText.split(Array(prediction[start...]), separator: "\n")
        let doubleSlash: [Unicode.Scalar] = ["/", "/"]
        for line in lines where !line.contains("`") && !line.contains("#") && !PythonText.contains(line, doubleSlash) {
            return Array(line)
        }
        return []
    }

    /// Returns `fuzz.ratio(a, b)` of fuzzywuzzy 0.18 with python-Levenshtein: 100 for equal strings
    /// (two empty strings included), 0 when one is empty, otherwise the indel similarity
    /// `1 - (|a| + |b| - 2·LCS) / (|a| + |b|)` over code points, times 100, rounded half to
    /// even (12.5 gives 12).
    public static func fuzzRatio(_ first: String, _ second: String) -> Int {
        fuzzRatio(PythonText.scalars(first), PythonText.scalars(second))
    }

    static func fuzzRatio(_ first: [Unicode.Scalar], _ second: [Unicode.Scalar]) -> Int {
        if first == second {
            return 100
        }
        if first.isEmpty || second.isEmpty {
            return 0
        }
        let total = first.count + second.count
        let distance = total - 2 * lcsLength(first, second)
        // Same operation order as the Levenshtein package, so halves land exactly on .5.
        let normalizedDistance = Double(distance) / Double(total)
        let similarity = 1.0 - normalizedDistance
        return Int((100 * similarity).rounded(.toNearestOrEven))
    }

    /// Returns the length of the longest common subsequence of code points, computed by the
    /// bit-parallel method of Allison and Dix as refined by Hyyrö, with 64 DP cells of a row in
    /// one machine word.
    static func lcsLength(_ first: [Unicode.Scalar], _ second: [Unicode.Scalar]) -> Int {
        let pattern = first.count <= second.count ? first : second
        let text = first.count <= second.count ? second : first
        let blockCount = (pattern.count + 63) / 64

        // One bit mask per distinct pattern code point: bit k is set where pattern[k] == it.
        var masks = [Unicode.Scalar: [UInt64]]()
        for (position, scalar) in pattern.enumerated() {
            masks[scalar, default: [UInt64](repeating: 0, count: blockCount)][position / 64] |= 1 << UInt64(position % 64)
        }

        // A set bit in `row` marks a DP column where the LCS does not grow.
        var row = [UInt64](repeating: ~0, count: blockCount)
        for scalar in text {
            guard let mask = masks[scalar] else {
                continue
            }
            var carry: UInt64 = 0
            for block in 0..<blockCount {
                let matches = row[block] & mask[block]
                let (partial, overflow1) = row[block].addingReportingOverflow(matches)
                let (sum, overflow2) = partial.addingReportingOverflow(carry)
                carry = (overflow1 || overflow2) ? 1 : 0
                row[block] = sum | (row[block] & ~matches)
            }
        }

        var zeros = 0
        for block in 0..<blockCount {
            let validBits = min(64, pattern.count - block * 64)
            let valid: UInt64 = validBits == 64 ? ~0 : (1 << UInt64(validBits)) - 1
            zeros += (~row[block] & valid).nonzeroBitCount
        }
        return zeros
    }
}
