#!/usr/bin/env python3
"""Write the golden token-id fixtures for the Swift tokenizer tests.

The reference is llama.cpp's own tokenizer, through the low-level API of the PyPI package
llama-cpp-python (`llama_tokenize` and `llama_detokenize` on a vocab-only model). Its `smollm`
pre-tokenizer splits every digit out before the GPT-2 pattern, as the original SmolLM2 tokenizer does.
Hugging Face transformers is not used: transformers 5.x builds a tokenizer from this GGUF that drops the
digit split and treats <|im_start|> as EOS. `Llama.detokenize` is not used either, because it garbles
pieces longer than 32 bytes.

Outputs:
- Tests/Fixtures/tokenizer/smollm2.json: ids and decoded text for the real SmolLM2 model, for prose,
  code, digits, Unicode, whitespace runs, special tokens and the first 5000 characters of the essays.
  It also stores the count and FNV-1a hash of the ids of all the essays.
- Tests/Fixtures/tokenizer/vocab-files.json: ids for the same texts on llama.cpp's vocab-only files
  (see scripts/fetch-vocab-fixtures.sh), including `ggml-vocab-gpt-2.gguf` with its pre-tokenizer
  rewritten to `default`. The Swift tests skip these cases when the vocab files are absent.

With --time-llama-cpp it writes nothing and prints llama.cpp's time to encode the essays twice over,
the reference number in docs/benchmarks.md.

Usage: /tmp/goldenv/bin/python scripts/golden/make_token_fixtures.py
           [--model PATH] [--essays DIR] [--vocab-dir DIR] [--time-llama-cpp]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import re
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import llama_cpp
from gguf import GGUFReader, GGUFValueType, GGUFWriter

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "Tests" / "Fixtures" / "tokenizer"
DEFAULT_MODEL = REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_ESSAYS = REPO / "data" / "PaulGrahamEssays"
DEFAULT_VOCAB_DIR = REPO / "vocab-fixtures"
GENERATOR = (f"scripts/golden/make_token_fixtures.py with llama-cpp-python {version('llama-cpp-python')}, "
             f"gguf {version('gguf')}")
ESSAY_PREFIX_CHARACTERS = 5000

# Texts of each kind the tokenizer must handle. Names are stable: the Swift tests report them.
TEXTS: list[tuple[str, str]] = [
    ("empty", ""),
    ("single space", " "),
    ("prose", "The quick brown fox jumps over the lazy dog. It's a well-known pangram; they'll say "
              "it's been used since the 1880s, and you're right that we've seen it before."),
    ("contractions in capitals", "I'M HERE, YOU'RE there; We'Ve gone and she'd've LL'd it. 'tis 'S"),
    ("code python", 'def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n'
                    "    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n"
                    "print([fib(i) for i in range(10)])  # 0, 1, 1, 2, ...\n"),
    ("code c", "for (int i = 0; i < 10; ++i) { x[i] = i * 3.14f; }\n\tif (a != b && c >= d) return -1;\n"
               "#include <stdio.h>\n/* comment */ int main(void){printf(\"%d\\n\", 42);}"),
    ("digits", "On  26 March 2024, 1234567"),
    ("digits mixed", "Call 555-0123 or +1 (800) 123-4567; pi = 3.14159265358979; $1,000,000.00 and "
                     "12345678901234567890 x2 2x 10th"),
    ("unicode", "Café naïve résumé — Ærøskøbing, Straße, Zürich. 日本語のテキスト、中文文本。 "
                "😀🦙👩‍💻 ٣٤٥ ١٢٣ ٠ ① ² ½ Ⅻ Привет мир! ¿Qué tal? ŉ ǅ ﬁ"),
    ("unicode digits", "Arabic-Indic ٣٤٥, Devanagari १२३, fullwidth １２３, superscript x²³, fraction ¾"),
    ("whitespace runs", "  leading spaces\n\n\nthree newlines\t\ttabs\r\nCRLF   \n  trailing   \n\n \t \n"),
    ("trailing spaces", "end   "),
    ("unicode spaces", "a\u00a0non-breaking\u2003em space\u3000ideographic\u200bzero width\u2028line"),
    ("special tokens", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"),
    ("special tokens adjacent", "a<|im_end|>b <|im_start|> c<|endoftext|>d"),
    ("special tokens partial", "<|im_start user <|im_end| <|im_end|>> <|<|im_end|>|>"),
    ("llama special tokens", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"),
    ("sentencepiece special tokens", "<s>[INST] Hi there [/INST] Hello</s> <unk>"),
    ("long word", "a" * 300 + " " + "xyz" * 70),
    ("many spaces", " " * 40 + "x" + " " * 17),
]


class Vocab:
    """A vocab-only llama.cpp model."""

    def __init__(self, path: Path) -> None:
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not self.model:
            raise SystemExit(f"llama.cpp could not load {path}")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.size = llama_cpp.llama_vocab_n_tokens(self.vocab)

    def tokenize(self, text: str, add_special: bool, parse_special: bool) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        tokens = (llama_cpp.llama_token * capacity)()
        count = llama_cpp.llama_tokenize(self.vocab, data, len(data), tokens, capacity, add_special, parse_special)
        if count < 0:
            raise SystemExit(f"llama_tokenize failed: {text[:40]!r} needs a buffer of {-count} tokens")
        return list(tokens[:count])

    def detokenize(self, ids: list[int], unparse_special: bool) -> str:
        array = (llama_cpp.llama_token * max(len(ids), 1))(*ids)
        capacity = 64 + 64 * len(ids)
        buffer = ctypes.create_string_buffer(capacity)
        count = llama_cpp.llama_detokenize(self.vocab, array, len(ids), buffer, capacity, False, unparse_special)
        if count < 0:
            raise SystemExit(f"llama_detokenize failed: the text needs a buffer of {-count} bytes")
        return buffer.raw[:count].decode("utf-8", errors="replace")

    def end_of_generation_ids(self) -> list[int]:
        return [i for i in range(self.size) if llama_cpp.llama_vocab_is_eog(self.vocab, i)]

    def close(self) -> None:
        llama_cpp.llama_model_free(self.model)


def read_essays(directory: Path) -> str:
    """The essays in file-name order, joined with no separator."""
    files = sorted(directory.glob("*.txt"), key=lambda path: path.name)
    if not files:
        raise SystemExit(f"no essays in {directory}; run scripts/setup.sh or pass --essays")
    return "".join(path.read_text(encoding="utf-8") for path in files)


def fnv1a64(ids: list[int]) -> str:
    """FNV-1a (64-bit) over the ids as little-endian 32-bit integers, in hexadecimal."""
    value = 0xCBF29CE484222325
    for token in ids:
        for byte in token.to_bytes(4, "little"):
            value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def model_fixture(model_path: Path, texts: list[tuple[str, str]], essays: str) -> dict:
    vocab = Vocab(model_path)
    cases = []
    for name, text in texts:
        ids = vocab.tokenize(text, add_special=True, parse_special=True)
        cases.append({
            "name": name,
            "text": text,
            "ids": ids,
            "ids_without_special_parsing": vocab.tokenize(text, add_special=True, parse_special=False),
            "decoded": vocab.detokenize(ids, unparse_special=True),
            "decoded_skipping_special": vocab.detokenize(ids, unparse_special=False),
        })
    fixture = {
        "generator": GENERATOR,
        "model": model_path.name,
        "vocabulary_size": vocab.size,
        "bos_token_id": llama_cpp.llama_vocab_bos(vocab.vocab),
        "eos_token_id": llama_cpp.llama_vocab_eos(vocab.vocab),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab.vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab.vocab)),
        "end_of_generation_ids": vocab.end_of_generation_ids(),
        "cases": cases,
    }
    # All the essays are too long to store as ids; their count and hash pin the sequence instead.
    essay_ids = vocab.tokenize(essays, add_special=True, parse_special=True)
    fixture["essays"] = {"bytes": len(essays.encode("utf-8")), "token_count": len(essay_ids),
                         "ids_fnv1a64": fnv1a64(essay_ids)}
    vocab.close()
    return fixture


def copy_with_pre(source: Path, target: Path, pre: str) -> None:
    """Copies a vocab-only GGUF file with `tokenizer.ggml.pre` replaced."""
    reader = GGUFReader(source)
    if len(reader.tensors) != 0:
        raise SystemExit(f"{source} has tensors; only vocab-only files can be copied")
    architecture = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(target, architecture)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = pre if key == "tokenizer.ggml.pre" else field.contents()
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, value_type, sub_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


def vocab_fixture(vocab_dir: Path, texts: list[tuple[str, str]]) -> dict:
    names = ["gpt-2", "llama-bpe", "qwen2", "starcoder", "refact", "mpt", "llama-spm", "phi-3", "baichuan"]
    entries = []
    with tempfile.TemporaryDirectory() as scratch:
        files = [(f"ggml-vocab-{name}.gguf", vocab_dir / f"ggml-vocab-{name}.gguf", None) for name in names]
        default_copy = Path(scratch) / "ggml-vocab-gpt-2-default.gguf"
        copy_with_pre(vocab_dir / "ggml-vocab-gpt-2.gguf", default_copy, "default")
        files.append(("ggml-vocab-gpt-2.gguf", default_copy, "default"))

        for file_name, path, pre_override in files:
            vocab = Vocab(path)
            cases = []
            for name, text in texts:
                cases.append({
                    "name": name,
                    "text": text,
                    "ids": vocab.tokenize(text, add_special=True, parse_special=True),
                    "ids_without_special_parsing": vocab.tokenize(text, add_special=False, parse_special=False),
                })
            entries.append({
                "file": file_name,
                "pre_override": pre_override,
                "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab.vocab)),
                "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(vocab.vocab)),
                "cases": cases,
            })
            vocab.close()
    return {"generator": GENERATOR, "vocabularies": entries}


def time_llama_cpp(model_path: Path, essays: str) -> None:
    """Prints the best of three times for llama.cpp to encode the essays twice over."""
    vocab = Vocab(model_path)
    text = essays + essays
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        ids = vocab.tokenize(text, add_special=True, parse_special=True)
        best = min(best, time.perf_counter() - start)
    print(f"llama.cpp encode of the essays twice over: {best:.3f} s for {len(text.encode('utf-8'))} bytes, "
          f"{len(ids)} tokens ({GENERATOR})")
    vocab.close()


def write_json(path: Path, fixture: dict) -> None:
    """Writes indented JSON with each list of ids on one line."""
    text = json.dumps(fixture, ensure_ascii=False, indent=1)
    text = re.sub(r"\[(?:\s*-?\d+,?)+\s*\]", lambda match: re.sub(r"\s+", "", match.group(0)), text)
    path.write_text(text + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--essays", type=Path, default=DEFAULT_ESSAYS)
    parser.add_argument("--vocab-dir", type=Path, default=DEFAULT_VOCAB_DIR)
    parser.add_argument("--time-llama-cpp", action="store_true",
                        help="print llama.cpp's encoding time for the essays twice over and write nothing")
    arguments = parser.parse_args()

    llama_cpp.llama_backend_init()
    essays = read_essays(arguments.essays)
    if arguments.time_llama_cpp:
        time_llama_cpp(arguments.model, essays)
        return

    OUTPUT.mkdir(parents=True, exist_ok=True)
    prefix_case = ("essays prefix", essays[:ESSAY_PREFIX_CHARACTERS])

    write_json(OUTPUT / "smollm2.json", model_fixture(arguments.model, TEXTS + [prefix_case], essays))
    write_json(OUTPUT / "vocab-files.json", vocab_fixture(arguments.vocab_dir, TEXTS))
    print(f"wrote {OUTPUT / 'smollm2.json'} and {OUTPUT / 'vocab-files.json'}")


if __name__ == "__main__":
    main()
