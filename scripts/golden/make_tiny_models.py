#!/usr/bin/env python3
"""Write tiny random-weight GGUF models and their transformers logits into Tests/Fixtures/tiny/.

Each model exercises one architecture flag of the Swift transformer:
  - tiny-mistral: Mistral with a sliding window shorter than the prompt, untied output head, GQA.
  - tiny-qwen2:   Qwen2 with Q/K/V biases, tied embeddings, rope_theta 1e6.
  - tiny-llama3:  Llama with Llama 3.1 ("llama3") RoPE scaling, stored as the rope_freqs tensor.
  - tiny-linear:  Llama with linear RoPE scaling (factor 2), one layer.

The GGUF files are written the way llama.cpp's convert_hf_to_gguf.py writes these architectures:
Llama-arch models (Llama, Mistral) get the Q and K projection rows permuted for llama.cpp's
adjacent-pair rotary layout, Qwen2 keeps the Hugging Face row order. Weights are float32.

Run by hand in a scratch virtualenv with torch, transformers and gguf from PyPI:
    python scripts/golden/make_tiny_models.py
Tested with transformers 5.25.0, torch 2.15.0, gguf 0.19.0.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import gguf
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "tiny")
PROMPT_LENGTH = 40


def permute_for_llama_cpp(weights: np.ndarray, heads: int) -> np.ndarray:
    """Reorder each head's rows from rotate-half pairs (i, i + d/2) to adjacent pairs (2i, 2i + 1)."""
    rows = weights.shape[0]
    return (weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2)
            .reshape(weights.shape))


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Give every weight a spread large enough that the logits differ clearly between tokens."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.copy_(1.0 + 0.2 * torch.randn(parameter.shape, generator=generator))
            elif name.endswith(".bias"):
                parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))
            else:
                fan_in = parameter.shape[-1]
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * (1.5 / math.sqrt(fan_in)))


def head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def write_gguf(path: str, arch: str, config, model: torch.nn.Module, extra_keys, rope_freqs) -> None:
    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(os.path.basename(path))
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(head_dim(config))
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    for key, (kind, value) in extra_keys.items():
        getattr(writer, f"add_{kind}")(key.format(arch=arch), value)

    state = {name: tensor.detach().numpy().astype(np.float32) for name, tensor in model.state_dict().items()}
    permute = arch == "llama"
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads

    writer.add_tensor("token_embd.weight", state["model.embed_tokens.weight"])
    if rope_freqs is not None:
        writer.add_tensor("rope_freqs.weight", rope_freqs)
    for layer in range(config.num_hidden_layers):
        prefix = f"model.layers.{layer}."
        q = state[prefix + "self_attn.q_proj.weight"]
        k = state[prefix + "self_attn.k_proj.weight"]
        if permute:
            q = permute_for_llama_cpp(q, heads)
            k = permute_for_llama_cpp(k, kv_heads)
        block = f"blk.{layer}."
        writer.add_tensor(block + "attn_norm.weight", state[prefix + "input_layernorm.weight"])
        writer.add_tensor(block + "attn_q.weight", np.ascontiguousarray(q))
        writer.add_tensor(block + "attn_k.weight", np.ascontiguousarray(k))
        writer.add_tensor(block + "attn_v.weight", state[prefix + "self_attn.v_proj.weight"])
        for projection in ("q", "k", "v"):
            bias = state.get(prefix + f"self_attn.{projection}_proj.bias")
            if bias is not None:
                assert not permute, "a permuted bias would need the same row reordering"
                writer.add_tensor(block + f"attn_{projection}.bias", bias)
        writer.add_tensor(block + "attn_output.weight", state[prefix + "self_attn.o_proj.weight"])
        writer.add_tensor(block + "ffn_norm.weight", state[prefix + "post_attention_layernorm.weight"])
        writer.add_tensor(block + "ffn_gate.weight", state[prefix + "mlp.gate_proj.weight"])
        writer.add_tensor(block + "ffn_up.weight", state[prefix + "mlp.up_proj.weight"])
        writer.add_tensor(block + "ffn_down.weight", state[prefix + "mlp.down_proj.weight"])
    writer.add_tensor("output_norm.weight", state["model.norm.weight"])
    if not config.tie_word_embeddings:
        writer.add_tensor("output.weight", state["lm_head.weight"])

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def llama3_rope_factors(config) -> np.ndarray:
    """The per-frequency divisors that llama.cpp's converter stores as rope_freqs for "llama3" scaling."""
    rope = config.rope_parameters
    dim = head_dim(config)
    freqs = 1.0 / (rope["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    low_wavelen = rope["original_max_position_embeddings"] / rope["low_freq_factor"]
    high_wavelen = rope["original_max_position_embeddings"] / rope["high_freq_factor"]
    factors = []
    for freq in freqs.tolist():
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(rope["factor"])
        else:
            smooth = ((rope["original_max_position_embeddings"] / wavelen - rope["low_freq_factor"])
                      / (rope["high_freq_factor"] - rope["low_freq_factor"]))
            factors.append(1.0 / ((1 - smooth) / rope["factor"] + smooth))
    return np.array(factors, dtype=np.float32)


def make(name: str, model_class, config, arch: str, seed: int, extra_keys=None, rope_freqs=None) -> None:
    torch.manual_seed(seed)
    model = model_class(config).to(torch.float32).eval()
    randomize(model, seed)

    generator = np.random.default_rng(seed)
    tokens = generator.integers(0, config.vocab_size, size=PROMPT_LENGTH).tolist()
    with torch.no_grad():
        logits = model(torch.tensor([tokens])).logits[0].numpy()

    path = os.path.join(OUT, f"{name}.gguf")
    write_gguf(path, arch, config, model, extra_keys or {}, rope_freqs)
    fixture = {
        "model": f"{name}.gguf",
        "generator": f"scripts/golden/make_tiny_models.py (transformers {transformers.__version__}, torch {torch.__version__})",
        "tokens": tokens,
        "logits": [[float(f"{value:.8g}") for value in row] for row in logits.tolist()],
    }
    with open(os.path.join(OUT, f"{name}.json"), "w") as handle:
        json.dump(fixture, handle, separators=(",", ":"))
        handle.write("\n")
    spread = float(logits.std())
    print(f"{name}: {os.path.getsize(path)} bytes, logits std {spread:.3f}")


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    common = dict(vocab_size=96, hidden_size=64, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5)

    # The sliding window (8) is much shorter than the prompt (40), so masking it wrongly changes the logits.
    mistral = MistralConfig(**common, sliding_window=8, tie_word_embeddings=False,
                            rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
    mistral._attn_implementation = "eager"
    make("tiny-mistral", MistralForCausalLM, mistral, "llama", seed=1,
         extra_keys={"{arch}.attention.sliding_window": ("uint32", 8)})

    qwen2 = Qwen2Config(**common, tie_word_embeddings=True, use_sliding_window=False,
                        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
    qwen2._attn_implementation = "eager"
    make("tiny-qwen2", Qwen2ForCausalLM, qwen2, "qwen2", seed=2)

    # With head_dim 16 and original context 64 the four kinds of frequency all occur:
    # unscaled, smoothed and divided by the factor.
    llama3 = LlamaConfig(**common, tie_word_embeddings=True,
                         rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                                          "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                          "original_max_position_embeddings": 64})
    llama3._attn_implementation = "eager"
    make("tiny-llama3", LlamaForCausalLM, llama3, "llama", seed=3, rope_freqs=llama3_rope_factors(llama3))

    linear_common = dict(common, num_hidden_layers=1)
    linear = LlamaConfig(**linear_common, tie_word_embeddings=True,
                         rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0})
    linear._attn_implementation = "eager"
    make("tiny-linear", LlamaForCausalLM, linear, "llama", seed=4,
         extra_keys={"{arch}.rope.scaling.type": ("string", "linear"),
                     "{arch}.rope.scaling.factor": ("float32", 2.0)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
