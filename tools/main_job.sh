#!/usr/bin/env bash
# The README's main job: set everything up (tools/setup.sh, idempotent), then
# meta-train a learned optimizer and evaluate it against tuned Adam.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup.sh

missing=()
for binary in meta_train evaluate; do
  grep -qs "name = \"$binary\"" tools/BUILD || missing+=("//tools:$binary")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Set-up is complete. The main job cannot run yet: ${missing[*]} not built" \
       "(they arrive with packages es and eval). Run tools/test.sh for the test suite."
  exit 0
fi
