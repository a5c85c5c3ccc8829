#!/usr/bin/env python3
"""Check `kvfactory kvprobe` against transformers and the reference selection formulas.

1. kvprobe captures layer L's post-RoPE q, k, v of SmolLM2-135M-Instruct on an essay prompt (--save_qkv).
   transformers runs the same token ids, and its q, k, v at layer L (rotate-half layout) must match.
2. transformers' tensors are written with the Python safetensors package and given to kvprobe --input. For
   each method and granularity, the kept positions must equal those of make_policy_fixtures.select(), the
   float64 numpy formulas of KVCache-Factory. Heads where a selection boundary is a near tie are skipped.

Nothing is written to the repository; it prints a summary and exits with 1 on a mismatch.
Usage: /tmp/goldenv/bin/python scripts/golden/check_kvprobe.py [--layer L] [--tokens N]
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file
from transformers import AutoModelForCausalLM
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
import make_policy_fixtures as reference  # noqa: E402

# Real activations have raw scores closer than the fixture margin. Only a near tie at the top-k boundary can
# change a selection, and reference.top_k still checks for that one.
reference.check_distinct = lambda row: None

MODEL = os.path.join(REPO, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
BINARY = os.path.join(REPO, ".build", "release", "kvfactory")
METHODS = ["snapkv", "pyramidkv", "h2o", "streamingllm", "l2norm", "adakv"]


def transformers_qkv(tokens, layer):
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(MODEL), gguf_file=os.path.basename(MODEL),
                                                 torch_dtype=torch.float32).eval()
    attention = model.model.layers[layer].self_attn
    captured = {}

    def hook(module, args, kwargs):
        hidden = kwargs.get("hidden_states", args[0] if args else None)
        cos, sin = kwargs["position_embeddings"]
        shape = (*hidden.shape[:-1], -1, module.head_dim)
        q = module.q_proj(hidden).view(shape).transpose(1, 2)
        k = module.k_proj(hidden).view(shape).transpose(1, 2)
        v = module.v_proj(hidden).view(shape).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        captured.update(q=q.numpy().copy(), k=k.numpy().copy(), v=v.numpy().copy())

    attention.register_forward_pre_hook(hook, with_kwargs=True)
    with torch.no_grad():
        model(torch.tensor([tokens]))
    return captured


def kvprobe(arguments):
    result = subprocess.run([BINARY, "kvprobe"] + arguments, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"kvprobe {' '.join(arguments)} failed: {result.stderr}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layer", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--budget", type=int, default=128)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="kvprobe-check-")
    essays = sorted(glob.glob(os.path.join(REPO, "data", "PaulGrahamEssays", "*.txt")))
    prompt = os.path.join(scratch, "prompt.txt")
    with open(prompt, "w", encoding="utf-8") as handle:
        handle.write("\n\n".join(open(path, encoding="utf-8").read() for path in essays[:2]))

    swift_qkv = os.path.join(scratch, "swift_qkv.safetensors")
    kvprobe(["--method", "fullkv", "--layer", str(args.layer), "--prompt_file", prompt, "--prompt_tokens",
             str(args.tokens), "--out", os.path.join(scratch, "full.json"), "--save_qkv", swift_qkv])
    with safe_open(swift_qkv, "numpy") as handle:
        tokens = [int(t) for t in handle.metadata()["tokens"].split(",")]
        swift = {name: handle.get_tensor(name) for name in ("q", "k", "v")}
    torch_qkv = transformers_qkv(tokens, args.layer)
    failed = False
    for name in ("q", "k", "v"):
        difference = float(np.abs(swift[name] - torch_qkv[name]).max())
        scale = float(np.abs(torch_qkv[name]).max())
        print(f"capture {name} {list(swift[name].shape)}: max |swift - transformers| = {difference:.2e} (max |x| {scale:.1f})")
        failed |= difference > 1e-3 * max(1.0, scale)

    torch_file = os.path.join(scratch, "torch_qkv.safetensors")
    save_file({name: np.ascontiguousarray(torch_qkv[name], dtype=np.float32) for name in ("q", "k", "v")}, torch_file)
    q, k = torch_qkv["q"][0].astype(np.float64), torch_qkv["k"][0].astype(np.float64)
    for method in METHODS:
        for granularity in ("query_head", "kv_head"):
            case = reference.base_case(method, budget=args.budget, layer=args.layer, layer_count=30,
                                       granularity=granularity)
            out = os.path.join(scratch, f"{method}-{granularity}.json")
            kvprobe(reference.flags(case) + ["--layer", str(args.layer), "--num_layers", "30", "--input", torch_file,
                                             "--out", out])
            kept = json.load(open(out))["kept_positions"]
            try:
                expected = reference.select(q, k, case)
            except reference.NearTie:
                print(f"{method} {granularity}: skipped, a selection boundary is a near tie")
                continue
            mismatched = [h for h in range(len(expected)) if expected[h] != kept[h]]
            print(f"{method} {granularity}: {len(expected) - len(mismatched)}/{len(expected)} heads match")
            failed |= bool(mismatched)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
