#!/usr/bin/env bash
# Issue 19's compute-lean recipe, as run on 2026-12-03; its validation-selected checkpoint (seed 1, step 1600) is
# the registry entry celo_finetuned_digits (tools/register_pretrained --init_theta recorded, so it carries Celo's
# LICENSE and provenance):
# fine-tune the update rule
# of the released Celo (scheduler frozen) on the tiny-digits task distribution with Celo's own meta-training
# settings, for two meta-training seeds; choose a checkpoint on the validation suite only; evaluate on the frozen
# held-out suite against the stored tuned baselines.
#
#   tools/recipes/celo_finetune.sh [output dir, default runs/celo_finetune]
#
# Recipe (Celo's README and celo/train.py at amoudgl/celo@66d97611): PES, 8 tasks per meta-batch, truncation 50,
# run lengths log-uniform in 100..2000, AdamW outer optimizer at 3e-4 (weight decay 1e-4), weight
# re-parameterisation at the global level with scales log-uniform in 1e-3..1e3 (`--aug reparam
# --aug_reparam_level global` in their commands: at the parameter level, Celo's steps, relative to each tensor's
# RMS, blow up on the elements scaled by 1e3). Tasks: lopt_tasks.TinyDigitsFamily (8x8 digits, one hidden
# layer, class subsets, label and pixel permutations, noise), none of which is in a suite.
# 2,400 outer steps per seed: ~10 minutes each on 2 CPU cores (4 steps/s). Selection of 7 candidates: ~18
# minutes. The held-out evaluations need text_lstm's Adam sweep, not yet stored (it runs for more than 40 minutes).
# LOPT_PY: the Python to run the tools with (default: .venv/bin/python; tools/recipes/env.sh).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
out="${1:-$root/runs/celo_finetune}"
cd "$root"
stored=packages/eval/stored_baselines

for seed in 0 1; do
  "$py" tools/meta_train.py --init_theta=pretrained:celo --train_only=update_rule --family=tiny_digits \
    --reparam_levels=global --reparam_range=1e-3,1e3 --estimator=pes --num_tasks=8 --trunc_length=50 \
    --inner_length=2000 --min_inner_length=100 --meta_learning_rate=3e-4 --meta_weight_decay=1e-4 \
    --outer_steps=2400 --checkpoint_every=100 --save_theta_every=400 --seed=$seed --workdir="$out/seed$seed"
done

candidates=pretrained:celo
for seed in 0 1; do
  for step in 800 1600 2400; do candidates="$candidates,$out/seed$seed/theta_steps/step_$step"; done
done
"$py" tools/select_checkpoint.py --theta_dirs="$candidates" --baseline_cache=$stored --out="$out/selection.json"

# The best checkpoint of each seed on the validation suite, and the released Celo, on the held-out suite.
for seed in 0 1; do
  best=$(best_checkpoint "$out/selection.json" "/seed$seed/")
  "$py" tools/evaluate.py --optimizer="checkpoint:$best" --suite=heldout-v1 --baseline_cache=$stored \
    --out="$out/heldout_seed$seed"
done
"$py" tools/evaluate.py --optimizer=pretrained:celo --suite=heldout-v1 --baseline_cache=$stored --out="$out/heldout_celo"
