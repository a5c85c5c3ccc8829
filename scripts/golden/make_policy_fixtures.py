#!/usr/bin/env python3
"""Write golden selections for the KV-cache compression methods.

The formulas are the ones KVCache-Factory implements: SnapKV, PyramidKV, H2O, StreamingLLM, L2Norm, AdaKV,
and the CAM and merge transforms. They are written here from their definitions in float64 numpy, with the tie
rule of this project (equal scores go to the lower position). Inputs are random but quantised to multiples of 1/64, stored as integer counts of 1/64, and
a seed is skipped when any selection boundary is closer than 1e-5 relative, so float32 scoring in Swift must
select the same tokens.

Usage: /tmp/goldenv/bin/python scripts/golden/make_policy_fixtures.py [output.json]
Default output: Tests/Fixtures/policies/selections.json, plus transforms.json (CAM with the same SplitMix64
draws as KVPolicies, and merging) and probe_seed0.safetensors (the seed-0 inputs as the Python safetensors
package writes them) beside it.
"""

import json
import math
import os
import sys

import numpy as np

MARGIN = 1e-5


class NearTie(Exception):
    """A selection boundary is too close to call in float32."""


def quantised_normal(rng, shape, scale):
    return np.round(rng.standard_normal(shape) * scale * 64.0) / 64.0


def stored_keys(k, query_heads, granularity):
    """Keys per stored head: repeated per query head, or one per KV head."""
    if granularity == "kv_head":
        return k
    group = query_heads // k.shape[0]
    return np.repeat(k, group, axis=0)


def softmax_rows(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def window_weights(q, k, window):
    """Per query head, softmax of the last `window` queries over all keys; the window block is causal."""
    heads, n, d = q.shape
    group = heads // k.shape[0]
    out = []
    for h in range(heads):
        logits = q[h, n - window:, :] @ k[h // group].T / math.sqrt(d)
        for i in range(window):
            for j in range(i + 1, window):
                logits[i, n - window + j] = -np.inf
        out.append(softmax_rows(logits))
    return np.stack(out)


def full_causal_column_sums(q, k):
    heads, n, d = q.shape
    group = heads // k.shape[0]
    out = []
    for h in range(heads):
        logits = q[h] @ k[h // group].T / math.sqrt(d)
        logits[np.triu_indices(n, 1)] = -np.inf
        out.append(softmax_rows(logits).sum(axis=0))
    return np.stack(out)


def group_reduce(rows, granularity, kv_heads, aggregation):
    if granularity != "kv_head":
        return rows
    group = rows.shape[0] // kv_heads
    grouped = rows.reshape(kv_heads, group, *rows.shape[1:])
    if aggregation == "mean":
        return grouped.mean(axis=1)
    if aggregation == "max":
        return grouped.max(axis=1)
    return grouped.sum(axis=1)


def pool(row, kernel, mode):
    half = kernel // 2
    count = len(row)
    out = np.empty(count)
    for i in range(count):
        part = row[max(0, i - half):min(count, i + half + 1)]
        out[i] = part.max() if mode == "maxpool" else part.sum() / kernel
    return out


def check_distinct(row):
    """Raw scores must be pairwise distinct by MARGIN, so pooled ties are copies of one value."""
    ordered = np.sort(row)
    for a, b in zip(ordered, ordered[1:]):
        if b - a <= MARGIN * max(abs(a), abs(b), 1e-30):
            raise NearTie()


def top_k(row, count):
    order = sorted(range(len(row)), key=lambda j: (-row[j], j))
    if 0 < count < len(row):
        a, b = row[order[count - 1]], row[order[count]]
        if a != b and a - b <= MARGIN * max(abs(a), abs(b)):
            raise NearTie()
    return sorted(order[:count])


def pyramid_count(layer, layers, n, budget, window, beta):
    base = budget - window
    if n < 2 * base:
        return base
    minimum = math.floor(base / beta)
    maximum = 2 * base - minimum
    if maximum >= n - window:
        maximum = n - window
        minimum = 2 * base - maximum
    steps = (maximum - minimum) // (layers - 1)
    return maximum - layer * steps


def window_scores(q, k, case, mean):
    window = case["window"]
    n = q.shape[1]
    weights = window_weights(q, k, window)
    reduced = weights[:, :, : n - window].sum(axis=1)
    if mean:
        reduced = reduced / window
    stored = group_reduce(reduced, case["granularity"], k.shape[0], case["aggregation"])
    for row in stored:
        check_distinct(row)
    return np.stack([pool(row, case["kernel"], case["pooling"]) for row in stored])


def adakv_counts(scores, base, floor_ratio):
    heads, candidates = scores.shape
    flat = []
    for h in range(heads):
        ordered = np.sort(scores[h])[::-1]
        weight = ordered[:base].sum() / ordered.sum()
        flat.extend((ordered * weight).tolist())
    flat = np.array(flat)
    order = sorted(range(len(flat)), key=lambda j: (-flat[j], j))
    take = heads * base
    a, b = flat[order[take - 1]], flat[order[take]]
    same_head = order[take - 1] // candidates == order[take] // candidates
    if (a == b and not same_head) or (a != b and a - b <= MARGIN * max(abs(a), abs(b))):
        raise NearTie()
    won = [0] * heads
    for j in order[:take]:
        won[j // candidates] += 1
    floor_capacity = int(base * floor_ratio)
    share = np.float32(1 - floor_ratio)
    return [int(np.round(np.float32(c) * share + np.float32(floor_capacity))) for c in won]


def select(q, k, case):
    method = case["method"]
    n = q.shape[1]
    heads = q.shape[0]
    budget = case["budget"]
    window = case["window"]
    stored = stored_keys(k, heads, case["granularity"])
    stored_heads = stored.shape[0]
    if n < budget:
        return [list(range(n)) for _ in range(stored_heads)]

    if method in ("snapkv", "pyramidkv", "adakv"):
        scores = window_scores(q, k, case, mean=(method == "adakv"))
        if method == "snapkv":
            counts = [budget - window] * stored_heads
        elif method == "pyramidkv":
            count = pyramid_count(case["layer"], case["layer_count"], n, budget, window, case["pyramid_beta"])
            counts = [count] * stored_heads
        else:
            counts = adakv_counts(scores, budget - window, case["floor"])
        return [top_k(scores[h], counts[h]) + list(range(n - window, n)) for h in range(stored_heads)]

    if method == "h2o":
        sums = full_causal_column_sums(q, k)[:, : n - window]
        scores = group_reduce(sums, case["granularity"], k.shape[0], case["aggregation"])
        return [top_k(scores[h], budget - window) + list(range(n - window, n)) for h in range(stored_heads)]

    if method == "streamingllm":
        sinks = case["start_size"]
        return [list(range(sinks)) + list(range(n - (budget - sinks), n)) for _ in range(stored_heads)]

    if method == "l2norm":
        if case["layer"] in (0, 1):
            return [list(range(n)) for _ in range(stored_heads)]
        result = []
        for h in range(stored_heads):
            norms = np.linalg.norm(stored[h], axis=-1)
            check_distinct(norms)
            result.append(top_k(-norms, budget))
        return result

    raise ValueError(method)


def flags(case):
    tokens = ["--method", case["method"], "--max_capacity_prompts", str(case["budget"]),
              "--window_size", str(case["window"]), "--kernel_size", str(case["kernel"]),
              "--pooling", case["pooling"], "--kv_cache_granularity", case["granularity"],
              "--gqa_score_agg", case["aggregation"]]
    if case["method"] == "adakv":
        tokens += ["--floor", str(case["floor"])]
    if case["method"] == "pyramidkv":
        tokens += ["--pyramid_beta", str(case["pyramid_beta"])]
    return tokens


def base_case(method, **overrides):
    case = dict(method=method, budget=24, window=8, kernel=7, pooling="maxpool", granularity="query_head",
                aggregation="mean", layer=2, layer_count=4, floor=0.2, pyramid_beta=20, start_size=4)
    case.update(overrides)
    return case


CASES = [
    base_case("snapkv"),
    base_case("snapkv", pooling="avgpool", kernel=5),
    base_case("snapkv", granularity="kv_head", aggregation="mean"),
    base_case("snapkv", granularity="kv_head", aggregation="max"),
    base_case("snapkv", granularity="kv_head", aggregation="sum", window=4, budget=16),
    base_case("pyramidkv", layer=0),
    base_case("pyramidkv", layer=3),
    base_case("pyramidkv", layer=1, granularity="kv_head"),
    base_case("pyramidkv", layer=2, budget=40),
    base_case("h2o"),
    base_case("h2o", granularity="kv_head", aggregation="max"),
    base_case("streamingllm", budget=20),
    base_case("streamingllm", granularity="kv_head"),
    base_case("l2norm", layer=2),
    base_case("l2norm", layer=1),
    base_case("l2norm", layer=3, granularity="kv_head", budget=30),
    base_case("adakv"),
    base_case("adakv", granularity="kv_head"),
    base_case("adakv", floor=0.5, budget=32),
    base_case("snapkv", budget=80),
]

MASK64 = (1 << 64) - 1


def splitmix_finalize(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class SplitMix64:
    """The generator CAM draws from, seeded by (seed, sample id, layer) as in KVPolicies."""

    def __init__(self, seed, sample_id, layer):
        mixed = splitmix_finalize((seed + 0x9E3779B97F4A7C15) & MASK64)
        mixed = splitmix_finalize(mixed ^ sample_id)
        self.state = splitmix_finalize(mixed ^ ((layer * 0xD1B54A32D192ED03) & MASK64))

    def unit(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        return (splitmix_finalize(self.state) >> 11) * 2.0 ** -53


def cam(q, k, v, case):
    """CAM: merge values with probability a[c] / max(a[:s], a[c:c+r]), then keep top-(B - w) by window sum."""
    n = q.shape[1]
    heads = q.shape[0]
    window, budget = case["window"], case["budget"]
    granularity = case["granularity"]
    values = stored_keys(v, heads, granularity).copy()

    weights = group_reduce(window_weights(q, k, window), granularity, k.shape[0], case["aggregation"])
    stored_heads = weights.shape[0]
    mean = weights.mean(axis=1)
    start = math.ceil(0.1 * n)
    candidates = range(start, n - window)
    probabilities = np.zeros((stored_heads, n))
    for h in range(stored_heads):
        for c in candidates:
            maximum = max(mean[h, :start].max(), mean[h, c:c + window].max())
            probabilities[h, c] = min(max(mean[h, c] / maximum, 0.0), 1.0)

    generator = SplitMix64(case["seed"], case["sample_id"], case["layer"])
    merges = np.zeros((stored_heads, n), dtype=bool)
    for c in candidates:
        for h in range(stored_heads):
            draw = generator.unit()
            if abs(draw - probabilities[h, c]) < 1e-5:
                raise NearTie()
            merges[h, c] = draw < probabilities[h, c]

    for h in range(stored_heads):
        for c in candidates:
            if merges[h, c]:
                values[h, c + 1:c + window + 1] += values[h, c] / window

    scores = weights[:, :, : n - window].sum(axis=1)
    kept = []
    for h in range(stored_heads):
        check_distinct(scores[h])
        kept.append(top_k(scores[h], budget - window) + list(range(n - window, n)))
    keys = stored_keys(k, heads, granularity)
    return kept, [keys[h][rows] for h, rows in enumerate(kept)], [values[h][rows] for h, rows in enumerate(kept)]


def snapkv_merge(q, k, v, case):
    """SnapKV selection, then each dropped token merges into its most cosine-similar retained token."""
    n = q.shape[1]
    heads = q.shape[0]
    window, budget = case["window"], case["budget"]
    granularity = case["granularity"]
    keys = stored_keys(k, heads, granularity)
    values = stored_keys(v, heads, granularity)
    scores = window_scores(q, k, case, mean=False)
    kept, out_keys, out_values = [], [], []
    for h in range(keys.shape[0]):
        retained = top_k(scores[h], budget - window) + list(range(n - window, n))
        dropped = [j for j in range(n - window) if j not in retained]
        unit = keys[h] / np.maximum(np.linalg.norm(keys[h], axis=-1, keepdims=True), 1e-6)
        key_sum = np.zeros((len(retained), keys.shape[2]))
        value_sum = np.zeros_like(key_sum)
        weight_sum = np.zeros(len(retained))
        for j in dropped:
            cosines = unit[retained] @ unit[j]
            order = sorted(range(len(retained)), key=lambda i: (-cosines[i], i))
            if cosines[order[0]] - cosines[order[1]] < 1e-5:
                raise NearTie()
            slot = order[0]
            r = retained[slot]
            if case["merge"] == "pivot":
                weight = 1.0
                key_sum[slot] += (keys[h, j] + keys[h, r]) / 2
                value_sum[slot] += (values[h, j] + values[h, r]) / 2
            else:
                weight = max((cosines[slot] + 1) / 2, 1e-6)
                key_sum[slot] += weight * keys[h, j]
                value_sum[slot] += weight * values[h, j]
            weight_sum[slot] += weight
        out_keys.append((keys[h][retained] + key_sum) / (1 + weight_sum)[:, None])
        out_values.append((values[h][retained] + value_sum) / (1 + weight_sum)[:, None])
        kept.append(retained)
    return kept, out_keys, out_values


def rounded(block):
    """Values to 8 significant digits, finer than the float32 tolerance the test uses."""
    return [float("%.8g" % x) for x in block.reshape(-1)]


def transform_flags(case):
    tokens = flags(case)
    if case["method"] == "cam":
        tokens += ["--seed", str(case["seed"])]
    if case.get("merge"):
        tokens += ["--merge", case["merge"]]
    return tokens


TRANSFORM_CASES = [
    base_case("cam", seed=42, sample_id=0),
    base_case("cam", seed=42, sample_id=7, layer=3),
    base_case("cam", seed=5, sample_id=1, granularity="kv_head", aggregation="max"),
    base_case("snapkv", merge="pivot"),
    base_case("snapkv", merge="weighted"),
    base_case("snapkv", merge="pivot", granularity="kv_head", aggregation="mean"),
]


QUERY_HEADS, KV_HEADS, TOKENS, HEAD_DIM = 4, 2, 64, 8


def make_tensors(seed):
    rng = np.random.default_rng(seed)
    q = quantised_normal(rng, (QUERY_HEADS, TOKENS, HEAD_DIM), 1.6)
    k = quantised_normal(rng, (KV_HEADS, TOKENS, HEAD_DIM), 1.6)
    v = quantised_normal(rng, (KV_HEADS, TOKENS, HEAD_DIM), 1.0)
    return q, k, v


def as_sixty_fourths(array, heads):
    """A tensor as integers in units of 1/64, exact in JSON."""
    return {"shape": [1, heads, TOKENS, HEAD_DIM], "sixty_fourths": [int(x) for x in np.rint(array * 64).reshape(-1)]}


def case_name(case):
    detail = case["aggregation"] if case["granularity"] == "kv_head" else case["pooling"]
    return "%s_%s_%s_b%d_layer%d" % (case["method"], case["granularity"], detail, case["budget"], case["layer"])


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "Tests", "Fixtures", "policies", "selections.json")
    tensors = {}
    fixtures = []
    for case in CASES:
        # Every case tries the shared inputs first and moves to the next seed only on a near tie.
        seed = 0
        while True:
            q, k, v = make_tensors(seed)
            try:
                kept = select(q, k, case)
                break
            except NearTie:
                seed += 1
        key = "seed%d" % seed
        tensors[key] = {"q": as_sixty_fourths(q, QUERY_HEADS), "k": as_sixty_fourths(k, KV_HEADS),
                        "v": as_sixty_fourths(v, KV_HEADS)}
        fixtures.append({"name": case_name(case), "tensors": key, "flags": flags(case), "layer": case["layer"],
                         "layer_count": case["layer_count"], "kept_positions": kept})
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as handle:
        json.dump({"generator": "scripts/golden/make_policy_fixtures.py", "tensors": tensors, "cases": fixtures},
                  handle, separators=(",", ":"))
        handle.write("\n")
    print("wrote %d cases over %d tensor sets to %s" % (len(fixtures), len(tensors), output))

    # Transforms: kept positions and the merged keys and values, compared with a tolerance.
    transform_fixtures = []
    for case in TRANSFORM_CASES:
        seed = 0
        while True:
            q, k, v = make_tensors(seed)
            try:
                kept, keys, values = cam(q, k, v, case) if case["method"] == "cam" else snapkv_merge(q, k, v, case)
                break
            except NearTie:
                seed += 1
        key = "seed%d" % seed
        tensors.setdefault(key, {"q": as_sixty_fourths(q, QUERY_HEADS), "k": as_sixty_fourths(k, KV_HEADS),
                                 "v": as_sixty_fourths(v, KV_HEADS)})
        name = case_name(case) + ("_" + case["merge"] if case.get("merge") else "_sample%d" % case.get("sample_id", 0))
        transform_fixtures.append({"name": name, "tensors": key, "flags": transform_flags(case), "layer": case["layer"],
                                   "layer_count": case["layer_count"], "sample_id": case.get("sample_id", 0),
                                   "kept_positions": kept,
                                   "keys": [rounded(block) for block in keys],
                                   "values": [rounded(block) for block in values]})
    transform_output = os.path.join(os.path.dirname(output), "transforms.json")
    with open(transform_output, "w") as handle:
        json.dump({"generator": "scripts/golden/make_policy_fixtures.py", "tensors": tensors, "cases": transform_fixtures},
                  handle, separators=(",", ":"))
        handle.write("\n")
    print("wrote %d transform cases to %s" % (len(transform_fixtures), transform_output))

    # The seed-0 tensors once more, written by the reference safetensors package, for the Swift reader's test.
    from safetensors.numpy import save_file
    q, k, v = make_tensors(0)
    probe = os.path.join(os.path.dirname(output), "probe_seed0.safetensors")
    save_file({"q": q[None].astype(np.float32), "k": k[None].astype(np.float32), "v": v[None].astype(np.float32)},
              probe, metadata={"generator": "make_policy_fixtures.py", "seed": "0"})
    print("wrote %s" % probe)


if __name__ == "__main__":
    main()
