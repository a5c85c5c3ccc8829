/// Summary-level ROUGE-L F as the PyPI package `rouge` 1.0.1 computes it, called as
/// LongBench's metric calls it: `Rouge().get_scores([hypothesis], [reference], avg=True)`,
/// with every exception turned into a score of 0.
///
/// The package's semantics (default `exclusive=True`):
/// - each text is split on "." into sentences. Empty pieces are dropped and whitespace inside
///   a piece is collapsed to single spaces, which then separate the words. Words are
///   case-sensitive and keep all punctuation except ".".
/// - `m` and `n` count the distinct words of the reference and of the hypothesis.
/// - for every (reference sentence, hypothesis sentence) pair, one longest common subsequence
///   is reconstructed, and the union of the words of all of them is `llcs`.
/// - `R = llcs / m`, `P = llcs / n`, `F = 2 * (P * R / (P + R + 1e-8))`.
public enum RougeL {
    /// The largest number of steps of the package's recursive LCS backtrack that succeed.
    /// One more step exceeds Python's default recursion limit of 1000 frames, the package
    /// raises `RecursionError`, and LongBench scores the pair 0. Measured with
    /// scripts/golden/make_metric_fixtures.py (Python 3.11.7, rouge 1.0.1), calling from the
    /// call depth of LongBench's eval.py (module, scorer, metric, then 6 package frames).
    /// NOTE: the limit counts frames, so other Python versions may differ by a few steps.
    public static let maxBacktrackSteps = 990

    /// Returns the ROUGE-L F score in [0, 1), or 0 where the package raises: a text with no
    /// sentence (empty or only periods) or a backtrack longer than `maxBacktrackSteps`.
    public static func fScore(hypothesis: String, reference: String) -> Double {
        var vocabulary = WordVocabulary()
        let hypothesisSentences = sentences(of: hypothesis, vocabulary: &vocabulary)
        let referenceSentences = sentences(of: reference, vocabulary: &vocabulary)
        guard !hypothesisSentences.isEmpty, !referenceSentences.isEmpty else {
            return 0
        }

        let referenceWordCount = Set(referenceSentences.joined()).count
        let hypothesisWordCount = Set(hypothesisSentences.joined()).count

        var union = Set<Int>()
        for referenceSentence in referenceSentences {
            for hypothesisSentence in hypothesisSentences {
                guard let words = lcsWords(referenceSentence, hypothesisSentence, maxSteps: maxBacktrackSteps) else {
                    return 0
                }
                union.formUnion(words)
            }
        }

        // The operation order matches the package so that the doubles are identical.
        let llcs = Double(union.count)
        let recall = llcs / Double(referenceWordCount)
        let precision = llcs / Double(hypothesisWordCount)
        return 2.0 * ((precision * recall) / (precision + recall + 1e-8))
    }

    /// Splits a text into sentences of word ids. A whitespace-only piece becomes one empty
    /// word, because the package splits the collapsed piece "" on " ".
    static func sentences(of text: String, vocabulary: inout WordVocabulary) -> [[Int]] {
        var result = [[Int]]()
        for piece in PythonText.split(PythonText.scalars(text), separator: ".") where !piece.isEmpty {
            let words = PythonText.splitWhitespace(piece)
            result.append(words.isEmpty ? [vocabulary.id(for: [])] : words.map { vocabulary.id(for: $0) })
        }
        return result
    }

    /// Reconstructs the package's LCS of `reference` (rows) and `hypothesis` (columns) and
    /// returns its words, or nil when the backtrack needs more than `maxSteps` steps.
    ///
    /// The backtrack starts at the bottom-right cell and moves diagonally on a match, up when
    /// the cell above is strictly larger than the cell to the left, and left otherwise, until a
    /// row or column index reaches 0. Within `maxSteps` steps it can only read cells at most
    /// `maxSteps` rows and columns away from the corner, so the DP streams rows and keeps just
    /// that corner: memory stays O(maxSteps²) whatever the sentence lengths.
    static func lcsWords(_ reference: [Int], _ hypothesis: [Int], maxSteps: Int) -> [Int]? {
        let rows = reference.count
        let columns = hypothesis.count
        // Reaching row 0 takes `rows` steps and column 0 takes `columns`, so the shorter side
        // bounds the path length from below.
        guard min(rows, columns) <= maxSteps else {
            return nil
        }

        let firstStoredRow = max(0, rows - maxSteps)
        let firstStoredColumn = max(0, columns - maxSteps)
        let storedColumns = columns - firstStoredColumn + 1
        var corner = [Int32](repeating: 0, count: (rows - firstStoredRow + 1) * storedColumns)

        func storeCornerRow(_ row: [Int32], row index: Int) {
            let offset = (index - firstStoredRow) * storedColumns
            for j in firstStoredColumn...columns {
                corner[offset + j - firstStoredColumn] = row[j]
            }
        }
        func cell(_ i: Int, _ j: Int) -> Int32 {
            corner[(i - firstStoredRow) * storedColumns + j - firstStoredColumn]
        }

        var previous = [Int32](repeating: 0, count: columns + 1)
        var current = [Int32](repeating: 0, count: columns + 1)
        if firstStoredRow == 0 {
            storeCornerRow(previous, row: 0)
        }
        for i in stride(from: 1, through: rows, by: 1) {
            let word = reference[i - 1]
            current[0] = 0
            for j in stride(from: 1, through: columns, by: 1) {
                if word == hypothesis[j - 1] {
                    current[j] = previous[j - 1] + 1
                } else {
                    current[j] = max(previous[j], current[j - 1])
                }
            }
            if i >= firstStoredRow {
                storeCornerRow(current, row: i)
            }
            swap(&previous, &current)
        }

        var words = [Int]()
        var i = rows
        var j = columns
        var steps = 0
        while i > 0 && j > 0 {
            guard steps < maxSteps else {
                return nil
            }
            steps += 1
            if reference[i - 1] == hypothesis[j - 1] {
                words.append(reference[i - 1])
                i -= 1
                j -= 1
            } else if cell(i - 1, j) > cell(i, j - 1) {
                i -= 1
            } else {
                j -= 1
            }
        }
        return words
    }
}

/// Interns words (code-point sequences) as integer ids, so that comparisons follow Python's
/// code-point equality and the DP compares integers.
struct WordVocabulary {
    private var ids = [[Unicode.Scalar]: Int]()

    mutating func id(for word: [Unicode.Scalar]) -> Int {
        if let id = ids[word] {
            return id
        }
        let id = ids.count
        ids[word] = id
        return id
    }
}
