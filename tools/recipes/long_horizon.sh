#!/usr/bin/env bash
# Issue 22's measured horizon range: evaluate registry entries at 10,000 steps (5x the 2,000-step runs Celo and
# Celo-Adam were meta-trained on) against Adam tuned over 15 learning rates at that horizon, then add the
# evaluation to each entry (register_pretrained --add_evaluation: θ, provenance and licence unchanged).
#
#   tools/recipes/long_horizon.sh <work dir> [<entry> ...]      (default entries: celo celo_adam)
#
# Tasks: digits_mlp, digits_autoencoder and family:mlp:1, 5 seeds, --baseline_multiple=1 (the sweep runs as long
# as the candidate, so a speedup above 1 is reported as a lower bound). The 10,000-step Adam sweeps (about 6
# minutes per task here) go to <work dir>/baselines and are reused by the next entry; they are not committed
# (each is ~12 MB). An entry already evaluated (<work dir>/<entry>/results.json exists) is not run again.
# LOPT_PY: the Python to run the tools with (default: .venv/bin/python; tools/recipes/env.sh).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [ $# -lt 1 ]; then
  echo "usage: $0 <work dir> [<entry> ...]" >&2
  exit 2
fi
mkdir -p "$1"
work="$(cd "$1" && pwd)"
shift
entries=("$@")
[ ${#entries[@]} -gt 0 ] || entries=(celo celo_adam)
cd "$root"
for entry in "${entries[@]}"; do
  if [ ! -f "$work/$entry/results.json" ]; then
    "$py" tools/evaluate.py --optimizer="pretrained:$entry" --tasks=digits_mlp,digits_autoencoder,family:mlp:1 \
      --steps=10000 --seeds=5 --baseline_multiple=1 --baseline_cache="$work/baselines" --out="$work/$entry" \
      > "$work/$entry.log" 2>&1
  fi
  tail -n 8 "$work/$entry.log"
  "$py" tools/register_pretrained.py --entry="$entry" --add_evaluation --evaluation_dir="$work/$entry"
done
