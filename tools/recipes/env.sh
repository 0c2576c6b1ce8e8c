# Sourced by the recipes: the repository's root ($root), the Python to run the tools with ($py: LOPT_PY, default
# .venv/bin/python), PYTHONPATH over tools/ and every package, JAX on the CPU, and the repository as the working
# directory (the tools' relative paths, such as packages/eval/stored_baselines, are from there).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py="${LOPT_PY:-$root/.venv/bin/python}"
export JAX_PLATFORMS=cpu
export PYTHONPATH="$root/tools$(for p in features architectures tasks es eval pretrained; do printf ':%s' "$root/packages/$p"; done)"

# best_checkpoint <selection.json> <substring>: of the candidates in a tools/select_checkpoint output whose theta_dir
# contains <substring>, the one validation ranks first (select_checkpoint.rank_key).
best_checkpoint() {
  "$py" -c "import json, sys; import select_checkpoint as s
rows = [r for r in json.load(open(sys.argv[1]))['candidates'] if sys.argv[2] in r['theta_dir']]
print(min(rows, key=s.rank_key)['theta_dir'])" "$1" "$2"
}
