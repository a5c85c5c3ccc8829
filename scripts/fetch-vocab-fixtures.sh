#!/usr/bin/env bash
# Fetches llama.cpp's vocab-only GGUF files and their expected-token pairs
# (ggml-vocab-*.gguf, .gguf.inp, .gguf.out) into vocab-fixtures/ at the repo root.
# They ship inside the llama-cpp-python source distribution on PyPI; only those
# files are extracted. The folder is git-ignored: never commit its contents.
# The tokenizer tests that need these files skip until this script has run.
set -euo pipefail

version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
repo=$(cd "$(dirname "$0")/.." && pwd)
target="$repo/vocab-fixtures"
download="$target/.sdist"
python=$(command -v python3)

log() { printf 'fetch-vocab-fixtures: %s\n' "$*" >&2; }

if [ -f "$target/VERSION" ] && [ "$(cat "$target/VERSION")" = "$version" ]; then
  log "vocab files of llama-cpp-python $version already in $target"
  exit 0
fi

mkdir -p "$download"
sdist=$(ls "$download"/llama_cpp_python-"$version".tar.gz 2>/dev/null || true)
if [ -z "$sdist" ]; then
  log "downloading the llama-cpp-python $version source distribution from PyPI"
  # pip prepares the sdist's metadata, which installs its build requirements. Limiting
  # --no-binary to llama-cpp-python lets those (cmake, ninja) come as wheels; with :all:
  # pip would compile cmake from source first.
  "$python" -m pip download --quiet --no-deps --no-binary llama-cpp-python \
    --dest "$download" "llama-cpp-python==$version" >&2
  sdist=$(ls "$download"/llama_cpp_python-"$version".tar.gz)
fi

log "extracting ggml-vocab-* from $(basename "$sdist")"
"$python" - "$sdist" "$target" <<'PY'
import os, re, sys, tarfile

sdist, target = sys.argv[1], sys.argv[2]
pattern = re.compile(r"^[^/]+/vendor/llama\.cpp/models/(ggml-vocab-[A-Za-z0-9._-]+\.gguf(\.inp|\.out)?)$")
count = 0
with tarfile.open(sdist, "r:gz") as archive:
    for member in archive:
        match = pattern.match(member.name)
        if not match or not member.isfile():
            continue
        # Write by base name only, so no archive path can escape the target folder.
        source = archive.extractfile(member)
        with open(os.path.join(target, match.group(1)), "wb") as out:
            out.write(source.read())
        count += 1
if count == 0:
    sys.exit(f"no ggml-vocab-* files found in {sdist}; check the llama-cpp-python version")
print(f"extracted {count} files into {target}", file=sys.stderr)
PY

echo "$version" > "$target/VERSION"
rm -rf "$download"
log "done; run the tokenizer tests with: swift test --filter TokenizationTests"
