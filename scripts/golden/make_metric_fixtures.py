#!/usr/bin/env python3
"""Write the golden fixtures for the Benchmarks metrics tests.

The expected values come from the PyPI packages that the reference evaluation uses:
`rouge` 1.0.x (ROUGE-L of LongBench), `fuzzywuzzy` with `python-Levenshtein` (code edit
similarity), `rouge-score` and `nltk` (needle-in-a-haystack runner score, Porter stemmer).
The LongBench metric functions below restate the official LongBench v1 formulas; the
package calls are made exactly as LongBench's `eval.py` makes them, from the same call
depth, so that the recursion failure of `rouge` on long sentences is reproduced.

Usage (from the repository root, with the packages installed):
    python scripts/golden/make_metric_fixtures.py
Reads the LongBench v1 jsonl files in $LONGBENCH_DIR for real answers and the Paul Graham
essays in $ESSAYS_DIR for the stemmer word list (the defaults are this machine's copies),
and writes Tests/Fixtures/metrics/*.json.
"""

import glob
import json
import os
import random
import re
import string
import sys
import unicodedata
from collections import Counter

import Levenshtein  # noqa: F401  (fuzzywuzzy must use it, see the check below)
import nltk
import rouge as rouge_package
from fuzzywuzzy import fuzz
from fuzzywuzzy.StringMatcher import StringMatcher
from nltk.stem import porter
from rouge import Rouge
from rouge_score import rouge_scorer, tokenize

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "metrics")
LONGBENCH = os.environ.get("LONGBENCH_DIR", "/work/shared/data/longbench")
ESSAYS = os.environ.get("ESSAYS_DIR", "/work/main/data/PaulGrahamEssays")

if fuzz.SequenceMatcher is not StringMatcher:
    sys.exit("fuzzywuzzy is not using python-Levenshtein; install python-Levenshtein")


# ---------------------------------------------------------------------------------------
# LongBench metrics, restated from the official LongBench v1 metrics module.

def normalize_answer(text):
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def qa_f1(prediction, ground_truth, **kwargs):
    pred_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(ground_truth).split()
    same = sum((Counter(pred_tokens) & Counter(truth_tokens)).values())
    if same == 0:
        return 0
    precision = 1.0 * same / len(pred_tokens)
    recall = 1.0 * same / len(truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def rouge_l(prediction, ground_truth, **kwargs):
    try:
        scores = Rouge().get_scores([prediction], [ground_truth], avg=True)
    except:  # noqa: E722  (the official metric turns every failure into 0)
        return 0.0
    return scores["rouge-l"]["f"]


def classification(prediction, ground_truth, **kwargs):
    matched = [name for name in kwargs["all_classes"] if name in prediction]
    # Removing while iterating skips the entry after each removal, as the official code does.
    for term in matched:
        if term in ground_truth and term != ground_truth:
            matched.remove(term)
    if ground_truth in matched:
        return 1.0 / len(matched)
    return 0.0


def retrieval(prediction, ground_truth, **kwargs):
    target = re.findall(r"Paragraph (\d+)", ground_truth)[0]
    numbers = re.findall(r"\d+", prediction)
    right = sum(1 for number in numbers if str(number) == str(target))
    return float(0.0 if len(numbers) == 0 else right / len(numbers))


def retrieval_zh(prediction, ground_truth, **kwargs):
    target = re.findall(r"段落(\d+)", ground_truth)[0]
    numbers = re.findall(r"\d+", prediction)
    right = sum(1 for number in numbers if str(number) == str(target))
    return float(0.0 if len(numbers) == 0 else right / len(numbers))


def count(prediction, ground_truth, **kwargs):
    numbers = re.findall(r"\d+", prediction)
    right = sum(1 for number in numbers if str(number) == str(ground_truth))
    return float(0.0 if len(numbers) == 0 else right / len(numbers))


def code_sim(prediction, ground_truth, **kwargs):
    candidate = ""
    for line in prediction.lstrip("\n").split("\n"):
        if "`" not in line and "#" not in line and "//" not in line:
            candidate = line
            break
    return fuzz.ratio(candidate, ground_truth) / 100


DATASET_METRIC = {
    "narrativeqa": qa_f1, "qasper": qa_f1, "multifieldqa_en": qa_f1, "hotpotqa": qa_f1,
    "2wikimqa": qa_f1, "musique": qa_f1, "triviaqa": qa_f1,
    "gov_report": rouge_l, "qmsum": rouge_l, "multi_news": rouge_l, "samsum": rouge_l,
    "trec": classification, "lsht": classification,
    "passage_retrieval_en": retrieval, "passage_retrieval_zh": retrieval_zh,
    "passage_count": count, "lcc": code_sim, "repobench-p": code_sim,
}


def dataset_score(dataset, predictions, answers, all_classes):
    """The per-dataset score of LongBench's eval.py (scorer)."""
    total = 0.
    for prediction, truths in zip(predictions, answers):
        score = 0.
        if dataset in ["trec", "triviaqa", "samsum", "lsht"]:
            prediction = prediction.lstrip("\n").split("\n")[0]
        for truth in truths:
            score = max(score, DATASET_METRIC[dataset](prediction, truth, all_classes=all_classes))
        total += score
    return round(100 * total / len(predictions), 2)


# ---------------------------------------------------------------------------------------
# Helpers.

def read_jsonl(name):
    path = os.path.join(LONGBENCH, name + ".jsonl")
    if not os.path.exists(path):
        print(f"note: {path} not found; real-data cases for {name} are skipped")
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def write(name, payload):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=1)
        handle.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def words(count_, prefix="w"):
    return " ".join(f"{prefix}{i}" for i in range(count_))


def metric_cases(metric, rows):
    """Return fixture records with the metric's value, or 'error' where the metric raises."""
    cases = []
    for row in rows:
        prediction, truth = row[0], row[1]
        classes = row[2] if len(row) > 2 else None
        record = {"prediction": prediction, "ground_truth": truth}
        if classes is not None:
            record["all_classes"] = classes
        try:
            record["expected"] = metric(prediction, truth, all_classes=classes)
        except (IndexError, TypeError) as error:
            record["error"] = type(error).__name__
        cases.append(record)
    return cases


rng = random.Random(20240611)

# ---------------------------------------------------------------------------------------
# qa F1.

qa_rows = [
    ("Paris", "Paris"),
    ("The Eiffel Tower", "eiffel tower"),
    ("", "Paris"),
    ("Paris", ""),
    ("", ""),
    ("a an the", "the"),
    ("U.S.A.", "USA"),
    ("the_cat sat", "thecat sat"),
    ("theater the", "theater"),
    ("yes yes no", "yes no no"),
    ("Ünïcödé café", "unicode cafe"),
    ("ΟΔΟΣ", "οδος"),
    ("ΟΔΟΣ", "οδοσ"),
    ("ΣΑΣ Σ ΑΣ.", "σας σ ας"),
    ("İstanbul", "istanbul"),
    ("İstanbul", "i\u0307stanbul"),
    ("\u212a2 mountain", "k2 mountain"),
    ("the\u0301 dog", "\u0301 dog"),
    ("٣ apples", "3 apples"),
    ("٣ apples", "٣ apples"),
    ("ideographic\u3000space\x1cand\x1dseparators", "ideographic space and separators"),
    ("non\u00a0breaking\u2003spaces\u200bzero width", "non breaking spaces zero width"),
    ("An answer, with (punctuation)!", "answer with punctuation"),
    ("“Curly quotes” — dash", "curly quotes dash"),
    ("ﬁnal ﬁx STRASSE Straße", "ﬁnal ﬁx strasse straße"),
    ("a1 the2 an_ the-end", "a1 the2 end"),
    ("Tʜᴇ small caps ǅ digraph", "tʜᴇ small caps ǆ digraph"),
    ("1,000,000 people", "1000000 people"),
    ("He said: 'the answer is 42'", "42"),
    ("Answer:\n\n  Barack   Obama\t(44th)", "Barack Obama"),
]
for dataset in ["triviaqa", "hotpotqa", "2wikimqa", "musique", "narrativeqa", "qasper", "multifieldqa_en"]:
    records = read_jsonl(dataset)
    if not records:
        continue
    for index in rng.sample(range(len(records)), 6):
        truth = records[index]["answers"][0]
        other = records[rng.randrange(len(records))]["answers"][-1]
        truth_words = truth.split()
        partial = " ".join(truth_words[: max(1, len(truth_words) // 2)])
        qa_rows.append((truth, truth))
        qa_rows.append((other, truth))
        qa_rows.append((f"The answer is {partial}, I think.", truth))
        qa_rows.append((truth.upper() + " " + other, truth))
qa_cases = metric_cases(qa_f1, qa_rows)

# ---------------------------------------------------------------------------------------
# ROUGE-L (rouge 1.0.x).

rouge_rows = [
    ("", "a reference"),
    ("a hypothesis", ""),
    ("...", "a reference"),
    ("a hypothesis", "..."),
    (". . .", "a reference"),
    (" ", " "),
    (" ", "word"),
    ("The cat sat.", "the cat sat."),
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat. sat on. the mat", "the cat sat on the mat"),
    ("A b. c d", "a b c d"),
    ("x.y z", "x y z"),
    ("hello, world! hello world", "hello world, hello"),
    ("police killed the gunman", "police kill the gunman"),
    ("the gunman was shot dead by police", "police killed the gunman"),
    ("a b c d. a c e", "a b c d e. c e"),
    ("one\ttwo\nthree\u3000four", "one two three four"),
    ("tab\x1cseparated\x1dwords", "tab separated words"),
    ("Ünïcödé words here.", "Ünïcödé words there."),
    ("caf\u00e9 au lait", "cafe\u0301 au lait"),
    ("word word word word", "word"),
    ("b a", "a b"),
    ("b a. a b", "a b. b a"),
    ("c b a. a", "a b c"),
]
vocabulary = ["a", "b", "c", "d", "e"]
for _ in range(80):
    def random_text():
        sentences = []
        for _ in range(rng.randint(1, 3)):
            sentences.append(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 6))))
        return ". ".join(sentences) + rng.choice(["", "."])
    rouge_rows.append((random_text(), random_text()))
# Around the recursion limit of the package's LCS backtrack (one frame per step).
for size in (989, 990, 991, 992):
    text = words(size)
    rouge_rows.append((text, text))
    rouge_rows.append((words(size, "v"), "w0 w1"))
    rouge_rows.append(("w0", words(size)))
    rouge_rows.append((text + ". short tail", "tail. " + text))
for dataset in ["samsum", "multi_news", "qmsum", "gov_report"]:
    records = read_jsonl(dataset)
    if not records:
        continue
    for index in rng.sample(range(len(records)), 6):
        truth = records[index]["answers"][0]
        other = records[rng.randrange(len(records))]["answers"][0]
        cut = truth[: len(truth) // 2]
        rouge_rows.append((truth, truth))
        rouge_rows.append((other[:1500], truth))
        rouge_rows.append((cut, truth))
        rouge_rows.append((cut.replace(".", "") + " " + other[:300], truth))
rouge_cases = metric_cases(rouge_l, rouge_rows)

# The largest number of backtrack steps that still succeeds, probed from the call depth of
# eval.py: module -> scorer -> metric -> Rouge.get_scores -> ... -> _recon (one frame a step).
backtrack_max_steps = None
for size in range(985, 1100):
    probe = metric_cases(rouge_l, [(words(size), words(size))])[0]
    if probe["expected"] == 0.0:
        backtrack_max_steps = size - 1
        break
print(f"rouge backtrack succeeds up to {backtrack_max_steps} steps")

# ---------------------------------------------------------------------------------------
# Classification (trec-like and lsht-like class lists).

trec_classes = [
    "Abbreviation", "Expression abbreviated", "Animal", "Organ of body", "Color",
    "Invention, book and other creative piece", "Currency name", "Disease and medicine",
    "Event", "Food", "Musical instrument", "Language", "Letter like a-z", "Other entity",
    "Plant", "Product", "Religion", "Sport", "Element and substance", "Symbols and sign",
    "Techniques and method", "Equivalent term", "Vehicle", "Word with a special property",
    "Definition of something", "Description of something", "Manner of an action", "Reason",
    "Group or organization of persons", "Individual", "Title of a person",
    "Description of a person", "City", "Country", "Mountain", "Other location", "State",
    "Postcode or other code", "Count", "Date", "Distance, linear measure", "Price",
    "Order, rank", "Other number", "Lasting time of something", "Percent, fraction", "Speed",
    "Temperature", "Size, area and volume", "Weight",
]
nested_classes = ["News", "Sport", "Sports", "Sports news", "Other", "Other news"]
lsht_classes = ["体育", "财经", "教育", "科技", "军事", "娱乐", "时尚", "体育新闻"]
classification_rows = [
    ("City", "City", trec_classes),
    ("Country", "Country", trec_classes),
    ("Count", "Count", trec_classes),
    ("Country", "Count", trec_classes),
    ("Count Country", "Country", trec_classes),
    ("", "City", trec_classes),
    ("city", "City", trec_classes),
    ("Type: Date", "Date", trec_classes),
    ("Date, Price, Speed", "Price", trec_classes),
    ("Description of a person", "Description of a person", trec_classes),
    ("Description of something", "Description of a person", trec_classes),
    ("Other location or Other number", "Other number", trec_classes),
    ("Organ of body\nAnimal", "Animal", trec_classes),
    ("Sports news", "Sports news", nested_classes),
    ("Sports news and Other news", "Sports news", nested_classes),
    ("Sport", "Sports news", nested_classes),
    ("News Sport Sports", "Sports news", nested_classes),
    ("Other news", "Other news", nested_classes),
    ("Other", "Other news", nested_classes),
    ("News about Sports", "Sports", nested_classes),
    ("体育新闻", "体育新闻", lsht_classes),
    ("体育", "体育新闻", lsht_classes),
    ("财经 科技", "科技", lsht_classes),
    ("Sports news", "Sports news", ["Sports news", "Sports news", "Sport"]),
    ("Sport and Sports news", "Sports news", ["Sport", "Sport", "Sports news"]),
    ("Anything", "City", None),
]
classification_cases = metric_cases(classification, classification_rows)

# ---------------------------------------------------------------------------------------
# Retrieval and count.

retrieval_rows = [
    ("Paragraph 12", "Paragraph 12"),
    ("Paragraph 12 and Paragraph 3", "Paragraph 12"),
    ("Paragraph 1212", "Paragraph 12"),
    ("012", "Paragraph 12"),
    ("", "Paragraph 12"),
    ("no number here", "Paragraph 12"),
    ("١٢", "Paragraph 12"),
    ("Paragraph 12, ١٢", "Paragraph 12"),
    ("Paragraph １２", "Paragraph 12"),
    ("Paragraph ١٢", "Paragraph ١٢"),
    ("Paragraph 12²", "Paragraph 12"),
    ("Paragraph 12 12 12 7", "Paragraph 12"),
    ("Paragraph 3", "The answer is Paragraph 3 and Paragraph 4"),
    ("paragraph 5", "paragraph 5"),
    ("Paragraph 5", "Paragraph5"),
    ("12abc34", "Paragraph 34"),
    ("Paragraph 7\nParagraph 7", "Paragraph 7"),
    ("Paragraph ７", "Paragraph ７"),
    ("Paragraph 𝟕", "Paragraph 7"),
    ("Paragraph ߇", "Paragraph ߇"),
]
for record in read_jsonl("passage_retrieval_en")[:20]:
    truth = record["answers"][0]
    number = re.findall(r"\d+", truth)[0]
    retrieval_rows.append((truth, truth))
    retrieval_rows.append((f"Paragraph {int(number) + 1}", truth))
    retrieval_rows.append((f"The abstract is from {truth}, not Paragraph 30.", truth))
retrieval_cases = metric_cases(retrieval, retrieval_rows)

retrieval_zh_rows = [
    ("段落12", "段落12"),
    ("答案是段落12和段落3", "段落12"),
    ("段落１２", "段落１２"),
    ("段落１２", "段落12"),
    ("", "段落4"),
    ("段落4", "段落 4"),
]
retrieval_zh_cases = metric_cases(retrieval_zh, retrieval_zh_rows)

count_rows = [
    ("8", "8"),
    ("There are 8 unique paragraphs.", "8"),
    ("8 or 9", "8"),
    ("08", "8"),
    ("٨", "8"),
    ("٨", "٨"),
    ("８", "8"),
    ("²", "2"),
    ("", "8"),
    ("eight", "8"),
    ("18", "8"),
    ("8, 8, 8", "8"),
    ("The answer is 12. I counted 12 paragraphs out of 30.", "12"),
    ("1.5", "5"),
    ("-3", "3"),
    ("３ ٣ 3", "3"),
    ("12\n\n12", "12"),
    ("x8y8z", "8"),
    ("𝟖", "8"),
    ("No numbers.", "0"),
]
for record in read_jsonl("passage_count")[:20]:
    truth = record["answers"][0]
    count_rows.append((truth, truth))
    count_rows.append((f"There are {truth} unique paragraphs out of 40.", truth))
count_cases = metric_cases(count, count_rows)

# ---------------------------------------------------------------------------------------
# Code edit similarity.

long_line = "result = compute(" + ", ".join(f"arg{i}" for i in range(700)) + ")"
code_rows = [
    ("", "x = 1"),
    ("x = 1", ""),
    ("", ""),
    ("x = 1", "x = 1"),
    ("x = 2", "x = 1"),
    ("\n\n\nx = 1\ny = 2", "x = 1"),
    ("# comment\nx = 1", "x = 1"),
    ("// comment\nint x = 1;", "int x = 1;"),
    ("```python\nx = 1\n```", "x = 1"),
    ("url = 'http://example.com'\nx = 1", "x = 1"),
    ("a // b\nc = d", "c = d"),
    ("# only\n// comments\n`here`", "x = 1"),
    ("\n", "x = 1"),
    ("   \n x = 1", "x = 1"),
    ("\r\nx = 1", "x = 1"),
    ("abcdefgh", "aXXXXXXX"),
    ("abcdefgh", "abcXXXXX"),
    ("abcdefgh", "abcdeXXX"),
    ("ab", "aXXXXXXX"),
    ("naïve = 1", "naive = 1"),
    ("caf\u00e9()", "cafe\u0301()"),
    ("x = '😀😀'", "x = '😀'"),
    (long_line, long_line[:-40] + "arg999)"),
    (long_line + "\nnext()", long_line),
    ("if (a) {\n    b();\n}", "if (a) {"),
    ("    return self.value", "return self.value"),
    ("Return Value", "return value"),
    ("print(x)  # trailing comment", "print(x)"),
    ("\tfor i in range(10):", "for i in range(10):"),
]
code_cases = metric_cases(code_sim, code_rows)

# ---------------------------------------------------------------------------------------
# Whole-dataset scores as eval.py computes them (first-line cut, max over answers, rounding).

driver_datasets = {
    "triviaqa": [
        ("\n\nParis\nThe capital of France", ["Paris", "City of Paris"]),
        ("London", ["Paris"]),
        ("The answer is paris", ["Paris", "paris france"]),
    ],
    "samsum": [
        ("Amanda baked cookies.\nJerry will bring some.", ["Amanda baked cookies and will bring Jerry some tomorrow."]),
        ("\nTom is late.", ["Tom will be late for the meeting."]),
        ("...", ["Nothing happened."]),
    ],
    "qasper": [
        ("unanswerable", ["Unanswerable", "no answer"]),
        ("BERT and ELMo", ["BERT", "ELMo embeddings"]),
        ("", ["yes"]),
    ],
    "passage_retrieval_en": [
        ("Paragraph 3", ["Paragraph 3"]),
        ("Paragraph 3 or Paragraph 4", ["Paragraph 4"]),
        ("١", ["Paragraph 1"]),
    ],
    "passage_count": [
        ("12", ["12"]),
        ("There are 12 or 13", ["13"]),
        ("none", ["2"]),
    ],
    "gov_report": [
        ("The report reviews federal data privacy policy.", ["This report reviews data privacy policy."]),
        ("", ["Empty predictions score zero."]),
    ],
    "trec": [
        ("Country\nCity", ["Country"]),
        ("\nCount", ["Count"]),
        ("Description of something and Reason", ["Reason"]),
    ],
    "lcc": [
        ("# setup\nx = compute(a, b)\n", ["x = compute(a, c)"]),
        ("```\nreturn None", ["return None"]),
    ],
    "lsht": [
        ("体育\n财经", ["体育"]),
        ("财经 科技", ["科技"]),
    ],
}
driver_cases = []
for dataset, samples in driver_datasets.items():
    classes = None
    if dataset == "trec":
        classes = trec_classes
    elif dataset == "lsht":
        classes = lsht_classes
    predictions = [sample[0] for sample in samples]
    answers = [sample[1] for sample in samples]
    driver_cases.append({
        "dataset": dataset,
        "predictions": predictions,
        "answers": answers,
        "all_classes": classes,
        "expected": dataset_score(dataset, predictions, answers, classes),
    })

# ---------------------------------------------------------------------------------------
# Python semantics the metrics rely on: Unicode classes, lower(), round(x, 2).

def to_ranges(predicate):
    ranges = []
    start = None
    for cp in range(0x110000):
        inside = not (0xD800 <= cp <= 0xDFFF) and predicate(chr(cp))
        if inside and start is None:
            start = cp
        if not inside and start is not None:
            ranges.append([start, cp - 1])
            start = None
    if start is not None:
        ranges.append([start, 0x10FFFF])
    return ranges


digit_re = re.compile(r"\d")
word_re = re.compile(r"\w")
lower_map = []
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF:
        continue
    lowered = chr(cp).lower()
    if lowered != chr(cp):
        lower_map.append([cp, [ord(ch) for ch in lowered]])
sigma_texts = ["Σ", "ΑΣ", "ΑΣ ", "ΑΣΑ", "Σ.Α", "ΑΣ.", "Α'Σ", "ΑΣ'", "ΑΣ'Α", "Α.Σ", "ΑΣ\u0301", "ΑΣ\u0301Α",
               "1Σ", "ΑΣ1", "ΣΣ", "ΑΣΣ", "ΑΣΣ Α", "ΟΔΟΣ ΟΔΟΣ.", "\u0301Σ", "aΣb", "aΣ", "ǅΣ"]
round_values = [0.125, 0.375, 2.675, 1.005, 12.345, 50.0, 0.0, 99.995, 33.335, 66.665, 0.005, 0.015]
for _ in range(300):
    numerator = rng.randint(0, 10 ** rng.randint(1, 7))
    denominator = rng.randint(1, 2000)
    round_values.append(100 * (numerator / 10 ** rng.randint(0, 6)) / denominator)
write("python_semantics.json", {
    "python_version": sys.version.split()[0],
    "unicode_version": unicodedata.unidata_version,
    "assigned": to_ranges(lambda ch: unicodedata.category(ch) != "Cn"),
    "decimal_digits": to_ranges(lambda ch: digit_re.match(ch) is not None),
    "word_characters": to_ranges(lambda ch: word_re.match(ch) is not None),
    "whitespace": [cp for cp in range(0x110000) if not (0xD800 <= cp <= 0xDFFF) and chr(cp).isspace()],
    "lowercase": lower_map,
    "lower_texts": [{"text": text, "expected": text.lower()} for text in sigma_texts],
    "round2": [{"value": value, "expected": round(value, 2)} for value in round_values],
})

# ---------------------------------------------------------------------------------------
# Needle-in-a-haystack scores.

NEEDLE = "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n"
EXPECTED_ANSWER = "eat a sandwich and sit in Dolores Park on a sunny day."
scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
responses = [
    "",
    "eat a sandwich and sit in Dolores Park on a sunny day.",
    "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.",
    "Eating sandwiches while sitting in Dolores Park.",
    "DOLORES PARK ON A SUNNY DAY",
    "to eat a sandwich",
    "The best thing to do in San Francisco is: go to the Golden Gate Bridge.",
    "I don't know.",
    "sunny days, parks, sandwiches!",
    "eat a sandwich and sit in dolores park on a sunny day. eat a sandwich and sit in dolores park on a sunny day.",
    "İstanbul \u212aelvin café",
    "the 1990s and 2000s were busy",
    "   ",
    "San\u00a0Francisco\u3000is\tfoggy",
    "sandwich.sandwich,sandwich",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "The answer is: eat a sandwich and sit in Dolores Park on a sunny day. (Paul Graham)",
    "Sit in Dolores Park and eat a sandwich.",
    "EAT A SANDWICH AND SIT IN DOLORES PARK ON A SUNNY DAY.",
    "eat, a, sandwich, and, sit, in, dolores, park, on, a, sunny, day",
    "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\nThe",
    "generalization relational conditional hopefulness",
]
needle_cases = []
for response in responses:
    fmeasure = scorer.score(NEEDLE, response)["rouge1"].fmeasure
    runner = fmeasure * 10 if len(response) != 0 else 0.0
    response_words = set(response.lower().split())
    answer_words = set(EXPECTED_ANSWER.lower().split())
    recall = len(response_words & answer_words) / len(answer_words)
    needle_cases.append({"response": response, "rouge1_f": fmeasure, "runner_score": runner, "recall": recall})
other_targets = [
    ("Running runners ran quickly.", "run quick"),
    ("", "anything"),
    ("anything", ""),
    ("!!!", "???"),
    ("The cats are running", "the cat is runs"),
]
pair_cases = [{"target": target, "prediction": prediction,
               "rouge1_f": scorer.score(target, prediction)["rouge1"].fmeasure}
              for target, prediction in other_targets]
stemmer = porter.PorterStemmer()
tokenizer_texts = [NEEDLE, "İstanbul \u212aelvin café", "Hello, World! It's 2024-06-11.", "ÀÉÎ ÕÜ ß ﬁx", "a an the abc abcd"]
write("needle_scores.json", {
    "needle": NEEDLE,
    "expected_answer": EXPECTED_ANSWER,
    "rouge_score_version": "0.1.2",
    "cases": needle_cases,
    "pairs": pair_cases,
    "tokenize": [{"text": text, "tokens": tokenize.tokenize(text, stemmer)} for text in tokenizer_texts],
})

# Porter stemmer (nltk, default NLTK_EXTENSIONS mode, as rouge-score constructs it).
assert stemmer.mode == porter.PorterStemmer.NLTK_EXTENSIONS
vocabulary = set()
for path in sorted(glob.glob(os.path.join(ESSAYS, "*.txt"))):
    with open(path, encoding="utf-8") as handle:
        vocabulary.update(tokenize.tokenize(handle.read(), None))
vocabulary.update([
    "sky", "skies", "dying", "lying", "tying", "news", "innings", "inning", "outings", "cannings",
    "howe", "proceed", "exceed", "succeed", "ties", "dies", "lies", "pies", "spied", "died", "tied",
    "happy", "enjoy", "spy", "fly", "try", "y", "ay", "by", "yy", "yyyy", "syzygy", "toy",
    "generalli", "radicalli", "fulli", "hopefulli", "geology", "theology", "archaeology", "analogi",
    "caresses", "ponies", "caress", "cats", "feed", "agreed", "plastered", "bled", "motoring", "sing",
    "conflated", "troubled", "sized", "hopping", "tanned", "falling", "hissing", "fizzed", "failing",
    "filing", "relational", "conditional", "rational", "valenci", "hesitanci", "digitizer",
    "conformabli", "differentli", "vileli", "analogousli", "vietnamization", "predication",
    "operator", "feudalism", "decisiveness", "hopefulness", "callousness", "formaliti",
    "sensitiviti", "sensibiliti", "triplicate", "formative", "formalize", "electriciti",
    "electrical", "hopeful", "goodness", "revival", "allowance", "inference", "airliner",
    "gyroscopic", "adjustable", "defensible", "irritant", "replacement", "adjustment",
    "dependent", "adoption", "homologou", "communism", "activate", "angulariti", "homologous",
    "effective", "bowdlerize", "probate", "rate", "cease", "controll", "roll", "a", "is", "as",
    "be", "ed", "ing", "ies", "sses", "eed", "ied", "1990s", "2000s", "mp3s", "x86", "abcing",
    "Running", "CATS", "Generalizations", "ÉCOLES", "naïvety",
])
write("porter_stems.json", {
    "nltk_version": nltk.__version__,
    "mode": stemmer.mode,
    "pairs": [[word, stemmer.stem(word)] for word in sorted(vocabulary)],
})

# ---------------------------------------------------------------------------------------
# str.format on prompt templates.

format_values = {"context": "CTX {input} }{", "input": "Q?"}
format_templates = [
    "{context}",
    "Story: {context}\n\nQuestion: {input}\nAnswer:",
    "a {{x}} {input}",
    "{{{context}}}",
    "{{",
    "}}",
    "plain text",
    "",
    "}",
    "{",
    "x } y",
    "{context",
    "{unknown}",
    "{}",
    "{0}",
    "{ context }",
    "{context!r}",
    "{context:>10}",
    "{context[0]}",
    "{}}",
    "{{}",
    "{input}{input}",
    "答案：{input}",
]
format_cases = []
for template in format_templates:
    record = {"template": template}
    try:
        record["expected"] = template.format(**format_values)
    except (ValueError, KeyError, IndexError) as error:
        record["error"] = type(error).__name__
    format_cases.append(record)

# ---------------------------------------------------------------------------------------
# The LongBench metric fixture, written last because it is the largest.

write("longbench_metrics.json", {
    "rouge_version": rouge_package.__version__ if hasattr(rouge_package, "__version__") else "1.0.1",
    "python_version": sys.version.split()[0],
    "recursion_limit": sys.getrecursionlimit(),
    "rouge_backtrack_max_steps": backtrack_max_steps,
    "qa_f1": qa_cases,
    "rouge_l": rouge_cases,
    "classification": classification_cases,
    "retrieval": retrieval_cases,
    "retrieval_zh": retrieval_zh_cases,
    "count": count_cases,
    "code_sim": code_cases,
    "dataset_scores": driver_cases,
    "format": format_cases,
})
