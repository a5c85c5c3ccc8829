#!/usr/bin/env python3
"""Write the golden fixtures for the LongBench protocol tests.

CPython's `random` module is the reference for the example selection of `--sample_method
random`: the reference runner seeds it once with `random.seed(seed)` and then calls
`random.sample(examples, k)` once per dataset, in dataset order, on the same generator.

Python's `json.dumps` is the reference for the format of prediction lines.

Hugging Face `transformers` (with the tokenizer it builds from the GGUF file) is the reference
for middle truncation: the runner decodes the first and last max_length / 2 token ids and joins
the two strings. The fixture stores checksums of the result, not the LongBench text.

Usage (from the repository root): python scripts/golden/make_longbench_fixtures.py
Reads $LONGBENCH_DIR (default /work/shared/data/longbench) and the SmolLM2 model in models/.
Writes Tests/Fixtures/longbench/python_random.json, json_dumps.json and truncation.json.
"""

import json
import os
import random
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "longbench")
LONGBENCH = os.environ.get("LONGBENCH_DIR", "/work/shared/data/longbench")
MODEL_DIR = os.path.join(REPO, "models")
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def raw_outputs(seed, count):
    generator = random.Random(seed)
    return [generator.getrandbits(32) for _ in range(count)]


def sample_sequence(seed, calls):
    """Draws random.sample(range(n), k) for each (n, k) in order from one generator."""
    generator = random.Random(seed)
    return [generator.sample(range(n), k) for n, k in calls]


def fnv1a64(data):
    """FNV-1a, 64 bits, over bytes."""
    value = 0xCBF29CE484222325
    for byte in data:
        value ^= byte
        value = (value * 0x100000001B3) % 2**64
    return value


def id_checksum(ids):
    """Sum of (position + 1) * id modulo 2^61 - 1, for comparing token id lists."""
    return sum((i + 1) * t for i, t in enumerate(ids)) % (2**61 - 1)


def json_dumps_cases():
    record = {
        "prompt": "Answer: \"quoted\"\\ back\tslash\n\u00e9t\u00e9 \u4e2d\u6587 \U0001F600 \x7f\x01",
        "input": "",
        "context": "line one\r\nline two\x0c\x08",
        "answers": ["a", "b\u00fc"],
        "pred": " Paris.",
        "length": 1234,
        "dataset": "hotpotqa",
        "language": "en",
        "all_classes": None,
        "_id": "abc",
        "kv_cache_bytes": 4423680,
        "prefill_s": 1.25,
        "decode_s": 0.000123,
    }
    with_classes = dict(record, all_classes=["Food", "Date"], prefill_s=12.0, decode_s=3.0e-7)
    return [{"record": r, "line": json.dumps(r)} for r in (record, with_classes)]


def truncation_cases():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR, gguf_file=MODEL_FILE)
    with open(os.path.join(LONGBENCH, "config", "dataset2prompt.json")) as handle:
        templates = json.load(handle)
    cases = []
    for dataset, index, max_length in (("hotpotqa", 0, 3500), ("narrativeqa", 1, 7500), ("samsum", 2, 1000),
                                       ("qasper", 0, 101)):
        with open(os.path.join(LONGBENCH, dataset + ".jsonl")) as handle:
            example = json.loads(handle.readlines()[index])
        prompt = templates[dataset].format(**example)
        ids = tokenizer(prompt, add_special_tokens=True).input_ids
        half = int(max_length / 2)
        text = tokenizer.decode(ids[:half], skip_special_tokens=True) + tokenizer.decode(ids[-half:], skip_special_tokens=True)
        again = tokenizer(text, add_special_tokens=True).input_ids
        encoded = text.encode("utf-8")
        cases.append({
            "dataset": dataset, "index": index, "max_length": max_length,
            "prompt_tokens": len(ids), "prompt_ids_checksum": id_checksum(ids),
            "truncated_scalars": len(text), "truncated_utf8_fnv1a64": str(fnv1a64(encoded)),
            "truncated_tokens": len(again), "truncated_ids_checksum": id_checksum(again),
        })
    return cases


def write_lines(path, header, entries):
    """Writes {"<header key>": value, "<list key>": [one entry per line]}."""
    with open(path, "w") as handle:
        handle.write("{\n")
        for key, value in header.items():
            handle.write(f" {json.dumps(key)}: {json.dumps(value)},\n")
        items = list(entries.items())
        for number, (key, rows) in enumerate(items):
            handle.write(f' "{key}": [\n')
            handle.write(",\n".join("  " + json.dumps(row) for row in rows))
            handle.write("\n ]" + ("," if number < len(items) - 1 else "") + "\n")
        handle.write("}\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    raw = [
        {"seed": seed, "outputs": raw_outputs(seed, 700)}
        for seed in (0, 42, 12345, -7, 2**40 + 5)
    ]
    # Small counts use CPython's set-based branch, large counts its pool-based branch.
    sequences = [
        {"seed": 42, "calls": [[200, 3], [200, 3], [150, 3], [200, 50], [200, 100], [7, 7]]},
        {"seed": 1, "calls": [[200, 10], [1, 1], [33, 6], [5000, 400]]},
    ]
    for sequence in sequences:
        sequence["samples"] = sample_sequence(sequence["seed"], [tuple(c) for c in sequence["calls"]])
    python = {"python": sys.version.split()[0]}
    # One line per entry keeps the files small and their diffs readable.
    write_lines(os.path.join(OUT, "python_random.json"), python,
                {"getrandbits32": raw, "sample_sequences": sequences})
    write_lines(os.path.join(OUT, "json_dumps.json"), python, {"cases": json_dumps_cases()})

    import transformers
    write_lines(os.path.join(OUT, "truncation.json"),
                {"transformers": transformers.__version__, "model": MODEL_FILE},
                {"cases": truncation_cases()})


if __name__ == "__main__":
    main()
