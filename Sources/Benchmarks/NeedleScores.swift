/// Needle-in-a-haystack scores of the reference: the runner's ROUGE-1 score and the
/// visualiser's word recall.
public enum NeedleScore {
    /// ROUGE-1 F-measure of `response` (prediction) against `needle` (target), with the
    /// semantics of the PyPI `rouge-score` package 0.1.2 with stemming: both texts are
    /// tokenized by `tokens(of:)`, unigram counts are clipped, and
    /// `F = 2PR / (P + R)`, or 0 when P + R is 0. The result is in [0, 1].
    public static func rouge1F(response: String, needle: String) -> Double {
        let targetCounts = counts(tokens(of: needle))
        let predictionCounts = counts(tokens(of: response))

        var overlap = 0
        for (token, count) in targetCounts {
            overlap += min(count, predictionCounts[token] ?? 0)
        }
        let targetTotal = targetCounts.values.reduce(0, +)
        let predictionTotal = predictionCounts.values.reduce(0, +)

        // The operation order matches the package so that the doubles are identical.
        let precision = Double(overlap) / Double(max(predictionTotal, 1))
        let recall = Double(overlap) / Double(max(targetTotal, 1))
        guard precision + recall > 0 else {
            return 0
        }
        return 2 * precision * recall / (precision + recall)
    }

    /// Returns the reference runner's `score`: `rouge1F × 10` (range 0 to 10), and 0 for an
    /// empty response. The runner strips the response before scoring, so pass it stripped.
    public static func runnerScore(response: String, needle: String) -> Double {
        guard !response.unicodeScalars.isEmpty else {
            return 0
        }
        return rouge1F(response: response, needle: needle) * 10
    }

    /// Returns the reference visualiser's score: the share of the distinct words of `expectedAnswer`
    /// that occur among the words of `response`. Words are the lowercased texts split on
    /// whitespace, so punctuation stays attached ("day." differs from "day"). Returns 0 for an
    /// expected answer without words, where the visualiser would divide by zero.
    public static func recall(response: String, expectedAnswer: String) -> Double {
        let expected = Set(PythonText.splitWhitespace(PythonText.lowercased(expectedAnswer)))
        guard !expected.isEmpty else {
            return 0
        }
        let responseWords = Set(PythonText.splitWhitespace(PythonText.lowercased(response)))
        return Double(expected.intersection(responseWords).count) / Double(expected.count)
    }

    /// Tokenizes as `rouge-score` with stemming does: lowercase (Python `str.lower`), replace
    /// every run of characters outside a-z and 0-9 with a space, split, and stem tokens longer
    /// than 3 characters with the Porter stemmer.
    public static func tokens(of text: String) -> [String] {
        var tokens = [String]()
        var current = String.UnicodeScalarView()
        func finishToken() {
            guard !current.isEmpty else {
                return
            }
            let token = String(current)
            let stemmed = current.count > 3 ? PorterStemmer.stem(token) : token
            // The package drops tokens that are empty after stemming.
            if !stemmed.isEmpty {
                tokens.append(stemmed)
            }
            current = String.UnicodeScalarView()
        }
        for scalar in PythonText.lowercased(text) {
            if (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9") {
                current.append(scalar)
            } else {
                finishToken()
            }
        }
        finishToken()
        return tokens
    }

    private static func counts(_ tokens: [String]) -> [String: Int] {
        var result = [String: Int]()
        for token in tokens {
            result[token, default: 0] += 1
        }
        return result
    }
}
