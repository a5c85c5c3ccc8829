#!/usr/bin/env bash
# The README's first command: installs what is missing (scripts/setup.sh), builds a release binary and
# runs the default needle sweep, jobs/needle-smollm2.json, on 2 MPI ranks of this machine.
#
#   scripts/run.sh [JOB.json]
#
# Environment: RANKS (default 2), HOSTFILE (default hostfiles/localhost), MPIRUN_ARGS (extra mpirun
# options, such as "--mca btl self,vader"). Rerunning resumes: cells already recorded are skipped.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
job=${1:-jobs/needle-smollm2.json}
ranks=${RANKS:-2}
hostfile=${HOSTFILE:-hostfiles/localhost}

log() { printf 'run: %s\n' "$*" >&2; }

scripts/setup.sh
log "building the release binary"
swift build -c release --product kvfactory

mpirun_args=(--hostfile "$hostfile" -np "$ranks")
# Open MPI does not start as root unless --allow-run-as-root confirms that this is intended.
if [ "$(id -u)" -eq 0 ]; then
  mpirun_args+=(--allow-run-as-root)
fi
# By default mpirun pins each rank to one core. Without pinning, the kernel can move a rank away from a
# core that other work is using, and ranks with several threads need more than one core anyway.
mpirun_args+=(--bind-to none)
# shellcheck disable=SC2206 # MPIRUN_ARGS is a list of words by design.
mpirun_args+=(${MPIRUN_ARGS:-})

log "running $job on $ranks ranks: mpirun ${mpirun_args[*]} .build/release/kvfactory sweep $job"
start=$(date +%s)
mpirun "${mpirun_args[@]}" .build/release/kvfactory sweep "$job"
seconds=$(( $(date +%s) - start ))

log "done in ${seconds}s; the lines above name each run's heatmap.png and summary.json"
