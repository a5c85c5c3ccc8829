/// The official LongBench v1 metrics, reproduced exactly, and the dataset-to-metric table.
public enum LongBenchMetric: String, CaseIterable, Sendable {
    case qaF1 = "qa_f1"
    case qaF1Chinese = "qa_f1_zh"
    case rougeL = "rouge"
    case rougeLChinese = "rouge_zh"
    case classification
    case retrieval
    case retrievalChinese = "retrieval_zh"
    case count
    case codeSimilarity = "code_sim"

    /// Datasets whose prediction is cut to its first line (after leading newlines) before
    /// scoring, as LongBench's eval.py does.
    public static let firstLineDatasets: Set<String> = ["trec", "triviaqa", "samsum", "lsht"]

    /// The metric of each LongBench v1 dataset.
    public static let datasetMetrics: [String: LongBenchMetric] = [
        "narrativeqa": .qaF1, "qasper": .qaF1, "multifieldqa_en": .qaF1, "hotpotqa": .qaF1,
        "2wikimqa": .qaF1, "musique": .qaF1, "triviaqa": .qaF1,
        "multifieldqa_zh": .qaF1Chinese,
        "gov_report": .rougeL, "qmsum": .rougeL, "multi_news": .rougeL, "samsum": .rougeL,
        "dureader": .rougeLChinese, "vcsum": .rougeLChinese,
        "trec": .classification, "lsht": .classification,
        "passage_retrieval_en": .retrieval, "passage_retrieval_zh": .retrievalChinese,
        "passage_count": .count,
        "lcc": .codeSimilarity, "repobench-p": .codeSimilarity,
    ]

    /// Whether this port implements the metric. The Chinese qa F1 and ROUGE-L need the jieba
    /// word segmenter, which is not ported yet.
    public var isSupported: Bool {
        self != .qaF1Chinese && self != .rougeLChinese
    }

    /// Returns the metric of `dataset`, or throws when the dataset is unknown or its metric
    /// is not supported.
    public static func metric(forDataset dataset: String) throws -> LongBenchMetric {
        guard let metric = datasetMetrics[dataset] else {
            throw BenchmarkError.unknownDataset(name: dataset, known: datasetMetrics.keys.sorted())
        }
        guard metric.isSupported else {
            throw BenchmarkError.unsupportedMetric(dataset: dataset, metric: metric.rawValue)
        }
        return metric
    }

    /// Scores one sample as LongBench's eval.py does: the first-line cut for trec, triviaqa,
    /// samsum and lsht, then the maximum of the metric over the ground truths (0 when there
    /// are none). The result is in [0, 1].
    public static func score(dataset: String, prediction: String, answers: [String], allClasses: [String]?) throws -> Double {
        let metric = try metric(forDataset: dataset)
        var scored = prediction
        if firstLineDatasets.contains(dataset) {
            scored = firstLine(of: prediction)
        }
        var best = 0.0
        for answer in answers {
            best = max(best, try metric.score(prediction: scored, groundTruth: answer, allClasses: allClasses))
        }
        return best
    }

    /// Scores a prediction against one ground truth with this metric.
    public func score(prediction: String, groundTruth: String, allClasses: [String]?) throws -> Double {
        switch self {
        case .qaF1:
            return LongBenchMetric.qaF1(prediction: prediction, groundTruth: groundTruth)
        case .rougeL:
            return RougeL.fScore(hypothesis: prediction, reference: groundTruth)
        case .classification:
            guard let allClasses else {
                throw BenchmarkError.missingClasses(metric: rawValue)
            }
            return LongBenchMetric.classification(prediction: prediction, groundTruth: groundTruth, allClasses: allClasses)
        case .retrieval:
            return try LongBenchMetric.retrieval(prediction: prediction, groundTruth: groundTruth, marker: "Paragraph ")
        case .retrievalChinese:
            return try LongBenchMetric.retrieval(prediction: prediction, groundTruth: groundTruth, marker: "段落")
        case .count:
            return LongBenchMetric.count(prediction: prediction, groundTruth: groundTruth)
        case .codeSimilarity:
            return EditSimilarity.codeScore(prediction: prediction, groundTruth: groundTruth)
        case .qaF1Chinese, .rougeLChinese:
            throw BenchmarkError.unsupportedMetric(dataset: nil, metric: rawValue)
        }
    }

    /// `prediction.lstrip("\n").split("\n")[0]`.
    static func firstLine(of prediction: String) -> String {
        let scalars = PythonText.scalars(prediction)
        let start = scalars.firstIndex { $0 != "\n" } ?? scalars.endIndex
        let end = scalars[start...].firstIndex(of: "\n") ?? scalars.endIndex
        return PythonText.string(scalars[start..<end])
    }

    // MARK: qa F1

    /// Normalizes a text as SQuAD-style answer checking does, in this order: lowercase (Python
    /// `str.lower`), delete ASCII punctuation, replace the whole words a, an and the with a
    /// space (word boundaries of Python's Unicode `\b`), and split on whitespace.
    static func normalizedTokens(_ text: String) -> [[Unicode.Scalar]] {
        let lowered = PythonText.lowercased(text)
        let withoutPunctuation = lowered.filter { !isASCIIPunctuation($0) }

        var withoutArticles = [Unicode.Scalar]()
        withoutArticles.reserveCapacity(withoutPunctuation.count)
        var index = 0
        while index < withoutPunctuation.count {
            guard PythonText.isWordCharacter(withoutPunctuation[index]) else {
                withoutArticles.append(withoutPunctuation[index])
                index += 1
                continue
            }
            var end = index
            while end < withoutPunctuation.count && PythonText.isWordCharacter(withoutPunctuation[end]) {
                end += 1
            }
            let word = withoutPunctuation[index..<end]
            if word.elementsEqual(["a"]) || word.elementsEqual(["a", "n"]) || word.elementsEqual(["t", "h", "e"]) {
                withoutArticles.append(" ")
            } else {
                withoutArticles.append(contentsOf: word)
            }
            index = end
        }
        return PythonText.splitWhitespace(withoutArticles)
    }

    /// Python's `string.punctuation`.
    static func isASCIIPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E:
            return true
        default:
            return false
        }
    }

    static func qaF1(prediction: String, groundTruth: String) -> Double {
        let predictionTokens = normalizedTokens(prediction)
        let truthTokens = normalizedTokens(groundTruth)

        var truthCounts = [[Unicode.Scalar]: Int]()
        for token in truthTokens {
            truthCounts[token, default: 0] += 1
        }
        var common = 0
        for token in predictionTokens {
            if let remaining = truthCounts[token], remaining > 0 {
                truthCounts[token] = remaining - 1
                common += 1
            }
        }
        guard common > 0 else {
            return 0
        }
        let precision = 1.0 * Double(common) / Double(predictionTokens.count)
        let recall = 1.0 * Double(common) / Double(truthTokens.count)
        return (2 * precision * recall) / (precision + recall)
    }

    // MARK: Classification, retrieval, count

    /// Returns the official classification score. The class names found as substrings of the
    /// prediction are listed. Entries that are substrings of the ground truth without being
    /// equal to it are then removed while the list is walked, so the entry after each removal
    /// is skipped, as in the official code. The score is 1/count if the ground truth is still
    /// listed.
    static func classification(prediction: String, groundTruth: String, allClasses: [String]) -> Double {
        let predictionScalars = PythonText.scalars(prediction)
        let truth = PythonText.scalars(groundTruth)
        var matched = allClasses.map(PythonText.scalars).filter { PythonText.contains(predictionScalars, $0) }

        // Python's list iterator walks by index, and remove() deletes the first equal entry.
        var position = 0
        while position < matched.count {
            let term = matched[position]
            if PythonText.contains(truth, term) && term != truth, let first = matched.firstIndex(of: term) {
                matched.remove(at: first)
            }
            position += 1
        }
        guard matched.contains(truth) else {
            return 0
        }
        return 1.0 / Double(matched.count)
    }

    /// Returns the share of `\d+` runs in the prediction that equal the paragraph number after
    /// `marker` in the ground truth (string equality, so "07" differs from "7"), or 0 without
    /// numbers. A ground truth without the marker and a number makes the official code raise,
    /// so it throws.
    static func retrieval(prediction: String, groundTruth: String, marker: String) throws -> Double {
        guard let target = PythonText.firstNumber(after: PythonText.scalars(marker), in: PythonText.scalars(groundTruth)) else {
            throw BenchmarkError.missingParagraphNumber(groundTruth: groundTruth, marker: marker)
        }
        return share(of: target, in: PythonText.digitRuns(PythonText.scalars(prediction)))
    }

    /// Returns the share of `\d+` runs in the prediction that equal the ground truth string,
    /// or 0 without numbers.
    static func count(prediction: String, groundTruth: String) -> Double {
        share(of: PythonText.scalars(groundTruth), in: PythonText.digitRuns(PythonText.scalars(prediction)))
    }

    private static func share(of target: [Unicode.Scalar], in numbers: [[Unicode.Scalar]]) -> Double {
        guard !numbers.isEmpty else {
            return 0
        }
        let right = numbers.filter { $0 == target }.count
        return Double(right) / Double(numbers.count)
    }
}
