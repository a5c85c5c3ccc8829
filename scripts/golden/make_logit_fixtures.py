#!/usr/bin/env python3
"""Write reference logits of the real model into Tests/Fixtures/logits/ for the Swift golden tests.

For two prompts, a chat-formatted conversation and about 1000 tokens of the Paul Graham essays, it stores:
  - the prompt token ids, from llama.cpp's tokenizer (llama-cpp-python, vocab only);
  - transformers' float32 logits at the last position, as little-endian float32 (<name>.last.bin);
  - the top 20 logits at positions 0, 64, 128, ... and at the last position;
  - 32 greedy tokens (argmax, continuing past end-of-sequence).

transformers is fed the token ids directly, because transformers 5.x builds a faulty tokenizer from this
GGUF file (it drops the SmolLM digit split and prepends BOS to plain text). It dequantizes the GGUF weights
to float32, so its logits are the float32 reference that the Swift transformer must match within 2e-3.

Run by hand in a scratch virtualenv with torch, transformers, gguf, jinja2 and llama-cpp-python from PyPI:
    python scripts/golden/make_logit_fixtures.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import glob
import json
import os
import sys

import jinja2
import llama_cpp
import numpy as np
import torch
import transformers
from gguf import GGUFReader
from transformers import AutoModelForCausalLM

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "logits")
DEFAULT_MODEL = os.path.join(REPO, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
ESSAYS = os.path.join(REPO, "data", "PaulGrahamEssays")
LONG_PROMPT_TOKENS = 1000
CHECKPOINT_STRIDE = 64
TOP_K = 20
GREEDY_TOKENS = 32

CONVERSATION = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "Name one famous museum there and say why people visit it."},
]


def chat_prompt(model_path: str) -> str:
    template = GGUFReader(model_path).fields["tokenizer.chat_template"].contents()
    return jinja2.Template(template).render(messages=CONVERSATION, add_generation_prompt=True)


def essay_text() -> str:
    paths = sorted(glob.glob(os.path.join(ESSAYS, "*.txt")))
    if not paths:
        sys.exit(f"no essays under {ESSAYS}; run scripts/setup.sh first")
    return "\n\n".join(open(path, encoding="utf-8").read() for path in paths[:3])


def greedy_continuation(model, ids: list) -> list:
    """Argmax decoding with transformers' KV cache, ignoring end-of-sequence tokens."""
    tokens = []
    with torch.no_grad():
        output = model(torch.tensor([ids]), use_cache=True)
        past = output.past_key_values
        token = int(output.logits[0, -1].argmax())
        for _ in range(GREEDY_TOKENS):
            tokens.append(token)
            output = model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
            past = output.past_key_values
            token = int(output.logits[0, -1].argmax())
    return tokens


def write_fixture(name: str, ids: list, model) -> None:
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].to(torch.float32).numpy()
    last = len(ids) - 1
    positions = sorted(set(range(0, len(ids), CHECKPOINT_STRIDE)) | {last})
    checkpoints = []
    for position in positions:
        row = logits[position]
        # Highest first; ties broken by the lower token id.
        order = sorted(range(len(row)), key=lambda token: (-row[token], token))[:TOP_K]
        checkpoints.append({"position": position,
                            "tokens": order,
                            "logits": [float(row[token]) for token in order]})
    binary = f"{name}.last.bin"
    logits[last].astype("<f4").tofile(os.path.join(OUT, binary))
    fixture = {
        "generator": f"scripts/golden/make_logit_fixtures.py (transformers {transformers.__version__}, "
                     f"torch {torch.__version__}, llama-cpp-python {llama_cpp.__version__})",
        "tokens": ids,
        "lastLogits": binary,
        "vocabularySize": int(logits.shape[1]),
        "checkpoints": checkpoints,
        "greedy": greedy_continuation(model, ids),
    }
    with open(os.path.join(OUT, f"{name}.json"), "w") as handle:
        json.dump(fixture, handle, indent=1)
        handle.write("\n")
    print(f"{name}: {len(ids)} tokens, greedy {fixture['greedy'][:8]}...")


def main() -> int:
    model_path = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL)
    os.makedirs(OUT, exist_ok=True)
    vocabulary = llama_cpp.Llama(model_path=model_path, vocab_only=True, verbose=False)

    def tokenize(text: str) -> list:
        return vocabulary.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(model_path), gguf_file=os.path.basename(model_path),
                                                 torch_dtype=torch.float32).eval()
    write_fixture("smollm2-chat", tokenize(chat_prompt(model_path)), model)
    write_fixture("smollm2-essays", tokenize(essay_text())[:LONG_PROMPT_TOKENS], model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
