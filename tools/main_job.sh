#!/usr/bin/env bash
# The README's main job: set everything up (tools/setup.sh, idempotent), then
# meta-train small_fc_lopt with PES on the digits MLP (offline, real data) and
# evaluate it against 15-trial learning-rate-tuned Adam on that task and two
# held-out ones. The meta-training is the recipe of the registry entry
# lopt_pretrained "small_fc_lopt_digits_mlp"; it gives that θ bit for bit only on the
# same machine and software (meta-training is chaotic: see the README).
# Results: runs/main/ (meta_train/ and evaluation/). About 10 minutes on 2 CPU
# cores. Running it again resumes meta-training where it stopped.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup.sh

startup=()
if [ -z "${HOME:-}" ] || [ ! -w "${HOME}" ]; then
  startup+=("--output_user_root=/tmp/lopt-bazel-$(id -u)")
fi
out="${LOPT_MAIN_JOB_DIR:-$root/runs/main}"
bazel "${startup[@]}" build //tools:meta_train //tools:evaluate
bin="$root/.bazel/bin/tools"
export JAX_PLATFORMS=cpu

"$bin/meta_train" --lopt=small_fc_lopt --task=digits_mlp --estimator=pes --num_tasks=8 --trunc_length=20 \
  --inner_length=200 --outer_steps=1750 --std=0.01 --meta_learning_rate=3e-3 --log_meta_loss --checkpoint_every=250 \
  --workdir="$out/meta_train"
"$bin/evaluate" --optimizer="checkpoint:$out/meta_train/theta" \
  --tasks=digits_mlp,digits_autoencoder,family:mlp:1 --seeds=5 --baselines=adam --baseline_multiple=4 \
  --out="$out/evaluation"
