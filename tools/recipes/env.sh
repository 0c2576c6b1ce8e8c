# Sourced by the recipes: the repository's root ($root), the Python to run the tools with ($py: LOPT_PY, default
# .venv/bin/python), PYTHONPATH over tools/ and every package, JAX on the CPU, and the repository as the working
# directory (the tools' relative paths, such as packages/eval/stored_baselines, are from there).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py="${LOPT_PY:-$root/.venv/bin/python}"
export JAX_PLATFORMS=cpu
export PYTHONPATH="$root/tools$(for p in features architectures tasks es eval pretrained; do printf ':%s' "$root/packages/$p"; done)"
