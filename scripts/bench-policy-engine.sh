#!/usr/bin/env bash
# Runs the policy-engine benchmarks of docs/benchmarks.md with `kvfactory bench` and writes one JSON summary per
# configuration to results/bench-policy/ (or $1). Each summary lists every run, so the best one can be taken.
#
#   swift build -c release && scripts/bench-policy-engine.sh [OUTPUT_DIR]
#
# The prompt is the essays of data/PaulGrahamEssays in file-name order. Every method stores one cache entry per
# KV head (kv_head), like FullKV, so that the runs differ only in the method.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
binary="$root/.build/release/kvfactory"
out="${1:-$root/results/bench-policy}"
repeats="${REPEATS:-3}"
mkdir -p "$out"
prompt="$out/essays.txt"
cat "$root"/data/PaulGrahamEssays/*.txt > "$prompt"

run() {
    local name="$1"
    shift
    echo "== $name: $*" >&2
    "$binary" bench --prompt_file "$prompt" --warmup 0 --repeat "$repeats" --json "$@" > "$out/$name.json"
}

# Scoring cost and H2O at 8000 tokens, and decode at 8000 context (64 new tokens).
for method in fullkv snapkv pyramidkv h2o; do
    run "prefill8000-$method" --prompt_tokens 8000 --max_new_tokens 64 --method "$method" \
        --max_capacity_prompts 128 --kv_cache_granularity kv_head
done

# CAM against SnapKV at 4000 tokens.
for method in snapkv cam; do
    run "prefill4000-$method" --prompt_tokens 4000 --max_new_tokens 1 --method "$method" \
        --max_capacity_prompts 128 --kv_cache_granularity kv_head
done
