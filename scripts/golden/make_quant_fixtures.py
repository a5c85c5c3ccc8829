#!/usr/bin/env python3
"""Write the golden fixtures for the Swift dequantization and half-float tests.

For each of the 13 tensor types that `Dequantizer` supports, this script assembles a few blocks of raw
GGUF tensor bytes and records the Float32 values that `gguf.quants.dequantize` from the PyPI `gguf`
package returns for them. Blocks come from three sources:
- `gguf.quants.quantize` on seeded random data, for the types the package can quantize;
- bytes assembled by hand around edge cases: zero and subnormal scales, negative minimums, all-ones bits;
- a few blocks of the real SmolLM2 model, when the model file is present.

It also records Float32 to FP16 rounding by NumPy and Float32 to BF16 rounding by `gguf.quants.BF16`,
and sampled values of whole tensors of the real model.

Output: Tests/Fixtures/quants/*.json. Byte strings and float arrays are base64 of little-endian data,
so NaN payloads and signed zeros survive.

Usage: /tmp/goldenv/bin/python scripts/golden/make_quant_fixtures.py [--model PATH]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from importlib.metadata import version
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "Tests" / "Fixtures" / "quants"
DEFAULT_MODEL = REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
GENERATOR = (f"scripts/golden/make_quant_fixtures.py with gguf {version('gguf')}, "
             f"numpy {version('numpy')}")


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def half(value: float) -> bytes:
    return np.array([value], dtype="<f2").tobytes()


def half_bits(bits: int) -> bytes:
    return np.array([bits], dtype="<u2").tobytes()


def dequantize_case(name: str, qtype: QT, raw: bytes) -> dict:
    block_size, block_bytes = GGML_QUANT_SIZES[qtype]
    assert len(raw) % block_bytes == 0, (name, len(raw), block_bytes)
    count = len(raw) // block_bytes * block_size
    data = np.frombuffer(raw, dtype=np.uint8)
    expected = np.asarray(dequantize(data, qtype), dtype="<f4").reshape(-1)
    assert expected.size == count, (name, expected.size, count)
    return {"name": name, "count": count, "bytes": b64(data), "expected": b64(expected)}


def write(file_name: str, content: dict) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / file_name
    path.write_text(json.dumps(content, indent=1) + "\n")
    print(f"{path.relative_to(REPO)}: {path.stat().st_size} bytes")


class ModelBlocks:
    """Raw blocks of the first tensor of each type in the real model, if the model file exists."""

    def __init__(self, path: Path | None):
        self.reader = GGUFReader(str(path)) if path and path.exists() else None

    def blocks(self, qtype: QT, start: int, count: int) -> bytes | None:
        if self.reader is None:
            return None
        for tensor in self.reader.tensors:
            if tensor.tensor_type == qtype:
                _, block_bytes = GGML_QUANT_SIZES[qtype]
                raw = np.asarray(tensor.data).view(np.uint8).reshape(-1)
                return raw[start * block_bytes:(start + count) * block_bytes].tobytes()
        return None


# MARK: - Plain float types

def float_types(rng: np.random.Generator) -> None:
    specials = np.array([0.0, -0.0, 1.0, -1.0, 0.1, 1e-45, -1e-45, 1.17549435e-38, 3.4028235e38,
                         np.inf, -np.inf], dtype="<f4")
    nan_bits = np.array([0x7FC00000, 0xFFC00001, 0x7F800001], dtype="<u4").view("<f4")
    values = np.concatenate([specials, nan_bits, rng.standard_normal(18).astype("<f4")])
    write("f32.json", {"type": "F32", "generator": GENERATOR,
                       "cases": [dequantize_case("specials_and_random", QT.F32, values.tobytes())]})

    # Zeros, subnormal bounds, normal bounds, infinities, quiet and signaling NaNs, then random bits.
    f16_specials = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x3555, 0x7BFF, 0xFBFF,
                    0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x7D55, 0xFFFF]
    f16_bits = np.concatenate([np.array(f16_specials, dtype="<u2"),
                               rng.integers(0, 1 << 16, size=46, dtype=np.uint16).astype("<u2")])
    write("f16.json", {"type": "F16", "generator": GENERATOR,
                       "cases": [dequantize_case("specials_and_random_bits", QT.F16, f16_bits.tobytes())]})

    bf16_specials = [0x0000, 0x8000, 0x0001, 0x007F, 0x0080, 0x3F80, 0xBF80, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80,
                     0x7FC0, 0x7F81, 0xFFFF]
    bf16_bits = np.concatenate([np.array(bf16_specials, dtype="<u2"),
                                rng.integers(0, 1 << 16, size=50, dtype=np.uint16).astype("<u2")])
    write("bf16.json", {"type": "BF16", "generator": GENERATOR,
                        "cases": [dequantize_case("specials_and_random_bits", QT.BF16, bf16_bits.tobytes())]})


def rounding_fixtures(rng: np.random.Generator) -> None:
    """Float32 to FP16 (NumPy astype) and Float32 to BF16 (gguf.quants.BF16) narrowing."""
    fp16_inputs = np.array([
        0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, -65520.0, 1e10, np.inf, -np.inf,
        2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0000001, 2.0 ** -26, 1.5 * 2.0 ** -24,
        2.5 * 2.0 ** -24, 1e-45, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, 1.0 + 2.0 ** -11 + 2.0 ** -20,
        (1.0 - 2.0 ** -11) * 2.0 ** -14, 0.1, 0.3333333, 3.14159265,
    ], dtype="<f4")
    fp16_random = np.concatenate([
        rng.standard_normal(40).astype("<f4"),
        (rng.standard_normal(20) * 1e-5).astype("<f4"),
        (rng.standard_normal(20) * 3e4).astype("<f4"),
        rng.integers(0, 1 << 32, size=40, dtype=np.uint64).astype("<u4").view("<f4"),
    ])
    fp16_inputs = np.concatenate([fp16_inputs, fp16_random])
    # NumPy keeps NaN payloads unquieted, so the Swift tests check NaN narrowing on their own.
    fp16_inputs = fp16_inputs[~np.isnan(fp16_inputs)]
    fp16_expected = fp16_inputs.astype("<f2").view("<u2")

    bf16_inputs = np.concatenate([
        np.array([0.0, -0.0, 1.0, 1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1.0 + 2.0 ** -8 + 2.0 ** -20,
                  3.4028235e38, -3.4028235e38, 1e-45, np.inf, -np.inf], dtype="<f4"),
        np.array([0x7FC00000, 0x7F800001, 0xFFA12345, 0x7FFFFFFF], dtype="<u4").view("<f4"),
        rng.standard_normal(40).astype("<f4"),
        rng.integers(0, 1 << 32, size=40, dtype=np.uint64).astype("<u4").view("<f4"),
    ])
    bf16_expected = np.asarray(quantize(bf16_inputs, QT.BF16)).view("<u2")

    write("rounding.json", {
        "generator": GENERATOR,
        "fp16": {"source": "numpy float32.astype(float16)", "floats": b64(fp16_inputs), "expected": b64(fp16_expected)},
        "bf16": {"source": "gguf.quants.quantize(..., BF16)", "floats": b64(bf16_inputs), "expected": b64(bf16_expected)},
    })


# MARK: - 32-element block types

def legacy_types(rng: np.random.Generator, model: ModelBlocks) -> None:
    random_data = np.concatenate([
        rng.standard_normal(64) * 0.05,
        rng.standard_normal(32) * 3.0 - 2.0,  # mostly negative, so Q4_1 and Q5_1 get negative minimums
        np.zeros(32),                          # all-zero block: zero scale
        np.full(32, 0.75),                     # constant block: zero scale, nonzero minimum
    ]).astype(np.float32)

    def hand_blocks(qtype: QT) -> bytes:
        # Scales: smallest subnormal, largest finite, negative, and a normal value with the minimum negative.
        scale_pairs = [(half_bits(0x0001), half(-2.0)), (half(65504.0), half(0.0)), (half(-1.0), half(-0.5)),
                       (half(0.0123), half(-65504.0))]
        patterns = [bytes([0xFF] * 16), bytes([0x00] * 16), bytes(range(0, 256, 16)), bytes(rng.integers(0, 256, 16, dtype=np.uint8))]
        high_words = [0xFFFFFFFF, 0x00000000, 0xAAAA5555, int(rng.integers(0, 1 << 32))]
        raw = b""
        for (d, m), quants, high in zip(scale_pairs, patterns, high_words):
            high_bytes = np.array([high], dtype="<u4").tobytes()
            if qtype == QT.Q4_0:
                raw += d + quants
            elif qtype == QT.Q4_1:
                raw += d + m + quants
            elif qtype == QT.Q5_0:
                raw += d + high_bytes + quants
            elif qtype == QT.Q5_1:
                raw += d + m + high_bytes + quants
            elif qtype == QT.Q8_0:
                signed = bytes([0x7F] * 8 + [0x80] * 8 + [0x00] * 8 + [0xFF] * 8)
                raw += d + (signed if quants[0] == 0xFF else quants + quants[::-1])
        return raw

    for qtype in (QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1, QT.Q8_0):
        quantized = np.asarray(quantize(random_data, qtype)).tobytes()
        cases = [dequantize_case("quantized_random", qtype, quantized),
                 dequantize_case("hand_edge_cases", qtype, hand_blocks(qtype))]
        real = model.blocks(qtype, start=1000, count=4)
        if real is not None:
            cases.append(dequantize_case("smollm2_blocks", qtype, real))
        write(f"{qtype.name.lower()}.json", {"type": qtype.name, "generator": GENERATOR, "cases": cases})


# MARK: - 256-element k-quant types

def k_quant_block(qtype: QT, d: bytes, dmin: bytes, body: bytes) -> bytes:
    """Place the scale fields around `body` (all other fields, in layout order) as the type requires."""
    if qtype in (QT.Q4_K, QT.Q5_K):
        return d + dmin + body
    if qtype == QT.Q2_K:
        return body + d + dmin
    return body + d  # Q3_K and Q6_K have one scale, at the end.


def k_quant_types(rng: np.random.Generator) -> None:
    for qtype in (QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K):
        _, block_bytes = GGML_QUANT_SIZES[qtype]
        scale_bytes = 4 if qtype in (QT.Q2_K, QT.Q4_K, QT.Q5_K) else 2
        body_bytes = block_bytes - scale_bytes

        def random_body() -> bytes:
            return rng.integers(0, 256, body_bytes, dtype=np.uint8).tobytes()

        random_blocks = (k_quant_block(qtype, half(0.0137), half(0.0021), random_body())
                         + k_quant_block(qtype, half(-0.25), half(1.5), random_body()))
        edge_blocks = (
            # All bits set: largest quants and scales, with a negative minimum scale.
            k_quant_block(qtype, half(1.0), half(-0.5), bytes([0xFF] * body_bytes))
            # Subnormal scales around random bits.
            + k_quant_block(qtype, half_bits(0x0001), half_bits(0x8001), random_body())
            # Zero scales: every value is zero, with the sign that the product gives.
            + k_quant_block(qtype, half(0.0), half(-0.0), random_body())
        )
        cases = [dequantize_case("random_bits", qtype, random_blocks),
                 dequantize_case("hand_edge_cases", qtype, edge_blocks)]
        write(f"{qtype.name.lower()}.json", {"type": qtype.name, "generator": GENERATOR, "cases": cases})


# MARK: - Whole tensors of the real model

def model_tensors(path: Path, rng: np.random.Generator) -> None:
    """Sampled values of a few real tensors, so the Swift test can check whole-tensor conversion."""
    reader = GGUFReader(str(path))
    selected = ["token_embd.weight", "blk.0.ffn_down.weight", "blk.0.attn_norm.weight", "blk.29.attn_v.weight"]
    entries = []
    for tensor in reader.tensors:
        if tensor.name not in selected:
            continue
        values = np.asarray(dequantize(np.asarray(tensor.data), tensor.tensor_type), dtype="<f4").reshape(-1)
        count = int(tensor.n_elements)
        indices = np.unique(np.concatenate([np.arange(32), np.arange(count - 32, count),
                                            rng.integers(0, count, 64)])).astype("<i8")
        entries.append({
            "name": tensor.name,
            "type": tensor.tensor_type.name,
            "offset": int(tensor.data_offset),
            "count": count,
            "byte_count": int(tensor.n_bytes),
            "indices": b64(indices),
            "expected": b64(values[indices]),
        })
    write("smollm2_tensors.json", {
        "generator": GENERATOR,
        "model": path.name,
        "file_size": os.path.getsize(path),
        "note": "offset is the absolute byte offset of the tensor data in the file",
        "tensors": entries,
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="GGUF model for the real-block fixtures (default: models/SmolLM2-135M-Instruct.Q4_1.gguf)")
    arguments = parser.parse_args()

    rng = np.random.default_rng(20240607)
    model = ModelBlocks(arguments.model)
    if model.reader is None:
        print(f"model not found at {arguments.model}; writing fixtures without real-model blocks")

    float_types(rng)
    rounding_fixtures(rng)
    legacy_types(rng, model)
    k_quant_types(rng)
    if model.reader is not None:
        model_tensors(arguments.model, rng)


if __name__ == "__main__":
    main()
