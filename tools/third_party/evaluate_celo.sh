#!/usr/bin/env bash
# Evaluates Celo's and Celo-Adam's released weights the way every registry entry is evaluated, and
# registers them as the lopt_pretrained entries `celo` and `celo_adam` (with their licence and provenance).
#
#   tools/third_party/evaluate_celo.sh <amoudgl/celo checkout at 66d97611> [output dir, default runs/celo]
#
# Held-out tasks: the twelve the other registry entries were evaluated on, at T = 200 (Adam's learning-rate
# sweep runs 4T) and T = 1000 (2T), 5 seeds each, against Adam tuned over 15 learning rates; at T = 1000 also
# against NAdamW tuned by a 100-trial random search on three of them. Tuned baselines are computed once and
# reused for the second optimizer (--baseline_cache). The conv net runs rolled: it used to run with
# --scan_unroll=20, now 2-4x slower than rolled (tools/scan_unroll_benchmark). LOPT_EVALUATE / LOPT_REGISTER: other commands for the two tools (no spaces
# in their paths), e.g. "python tools/evaluate.py" with PYTHONPATH set.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
celo="${1:?usage: $0 <amoudgl/celo checkout> [output dir]}"
out="${2:-$root/runs/celo}"
if [ -z "${LOPT_EVALUATE:-}" ] || [ -z "${LOPT_REGISTER:-}" ]; then
  (cd "$root" && bazel build //tools:evaluate //tools:register_pretrained)
fi
evaluate="${LOPT_EVALUATE:-$root/.bazel/bin/tools/evaluate}"
register="${LOPT_REGISTER:-$root/.bazel/bin/tools/register_pretrained}"
export JAX_PLATFORMS=cpu

with_nadamw=digits_mlp,digits_autoencoder,family:mlp:1
others=family:autoencoder:1,family:vae:1,family:rnn_lm:1,family:transformer_lm:1,digits_mlp:hidden_sizes=32x32
others=$others,digits_mlp:hidden_sizes=512x512,digits_mlp:hidden_sizes=128x128x128,digits_mlp:batch_size=32
conv=family:conv:1
common=(--seeds=5 --baseline_cache="$out/baselines")

for name in celo celo_adam; do
  weights="$celo/algoperf/submissions/$name/theta.state"
  run() { $evaluate --optimizer="reference:$name:$weights" "${common[@]}" "$@"; }
  run --steps=200 --baseline_multiple=4 --tasks="$with_nadamw,$others" --out="$out/$name/T200"
  run --steps=200 --baseline_multiple=4 --tasks="$conv" --scan_unroll=20 --out="$out/$name/T200_conv"
  run --steps=1000 --baseline_multiple=2 --tasks="$with_nadamw" --baselines=adam,nadamw --nadamw_trials=100 \
    --out="$out/$name/T1000_nadamw"
  run --steps=1000 --baseline_multiple=2 --tasks="$others" --out="$out/$name/T1000"
  run --steps=1000 --baseline_multiple=2 --tasks="$conv" --scan_unroll=20 --out="$out/$name/T1000_conv"
  $register --entry="$name" --third_party="$root/tools/third_party/$name.json" --reference_checkpoint="$weights" \
    --evaluation_dir="$out/$name/T200,$out/$name/T200_conv,$out/$name/T1000_nadamw,$out/$name/T1000,$out/$name/T1000_conv" \
    --replace_entry
done
