#!/usr/bin/env bash
# Resolves requirements.in in a throw-away virtualenv and writes every
# installed distribution, pinned, to requirements.lock. Run it after editing
# requirements.in, then run tools/setup.sh to bring .venv up to date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.in"
"$tmp/venv/bin/python" -m pip check
{
  echo "# The pinned Python environment of the lopt monorepo, resolved from"
  echo "# requirements.in by tools/lock_requirements.sh. Do not edit by hand."
  "$tmp/venv/bin/python" -m pip freeze --disable-pip-version-check
} > "$root/requirements.lock"
echo "wrote $root/requirements.lock ($(grep -vc '^#' "$root/requirements.lock") distributions)"
