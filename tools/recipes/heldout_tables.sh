#!/usr/bin/env bash
# Issue 19's suite tables: each candidate optimizer on the frozen held-out suite (heldout-v1, 1,000 steps, seeds
# 0-4) against the committed tuned-Adam baselines, one evaluation directory per candidate.
#
#   tools/recipes/heldout_tables.sh <output dir> <optimizer> [<optimizer> ...]
#   e.g. tools/recipes/heldout_tables.sh runs/heldout pretrained:celo pretrained:small_fc_lopt_digits_mlp \
#        checkpoint:runs/celo_finetune/seed1/theta_steps/step_1600
#
# Tasks whose baselines are not committed in packages/eval/stored_baselines are skipped and listed as such
# (--stored_baselines_only): text_lstm's 15-rate Adam sweep is not stored yet (about 100 minutes here). Each
# candidate's table, scorecard line and skipped tasks go to <output dir>/<name>.log; results.json and plots to
# <output dir>/<name>/. A candidate already evaluated (its results.json exists) is not run again. Last, every
# candidate's scorecard side by side (tools/compare_pretrained --results) and <output dir>/speedups_T1000.png.
# LOPT_PY: the Python to run the tools with (default: .venv/bin/python; tools/recipes/env.sh).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [ $# -lt 2 ]; then
  echo "usage: $0 <output dir> <optimizer> [<optimizer> ...]" >&2
  exit 2
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"  # absolute: the evaluations run from the repository's root
shift
names=()
for optimizer in "$@"; do
  # A directory name for the candidate: pretrained:celo -> celo, checkpoint:a/seed1/theta_steps/step_1600 -> seed1_step_1600.
  case "$optimizer" in
    pretrained:*) name="${optimizer#pretrained:}" ;;
    checkpoint:*) path="${optimizer#checkpoint:}"; [[ "$path" = /* ]] || optimizer="checkpoint:$PWD/$path"
                  parent="$(dirname "$path")"
                  # <workdir>/theta_steps/step_N is named after the workdir: seed1_step_1600.
                  [ "$(basename "$parent")" = theta_steps ] && parent="$(dirname "$parent")"
                  name="$(basename "$parent")_$(basename "$path")" ;;
    *) name="${optimizer//[^A-Za-z0-9_.-]/_}" ;;
  esac
  names+=("$name")
  if [ -f "$out/$name/results.json" ]; then
    echo "$name: already evaluated in $out/$name" >&2
    continue
  fi
  start=$(date +%s)
  (cd "$root" && "$py" tools/evaluate.py --optimizer="$optimizer" --suite=heldout-v1 \
     --baseline_cache=packages/eval/stored_baselines --stored_baselines_only --out="$out/$name") \
     > "$out/$name.log" 2> "$out/$name.err" || { echo "$name: failed, see $out/$name.err" >&2; continue; }
  echo "$name: $(( $(date +%s) - start )) s" >> "$out/$name.log"
  tail -n 4 "$out/$name.log"
done
# Every candidate of this call side by side, each scorecard recomputed from its results.json with the current
# lopt_eval (so a candidate evaluated earlier is scored as the others are), and their sorted speedups in one plot.
dirs=()
for d in "${names[@]}"; do [ -f "$out/$d/results.json" ] && dirs+=("$out/$d"); done
if [ ${#dirs[@]} -gt 0 ]; then
  (cd "$root" && "$py" tools/compare_pretrained.py --horizon=1000 --plot_dir="$out" \
     --results="$(IFS=,; echo "${dirs[*]}")")
fi
