#!/usr/bin/env bash
# Runs the test suite with Bazel (every test by default, or the given targets
# and flags, e.g. `tools/test.sh //packages/features/...`), after making sure
# the environment is set up (tools/setup.sh, a no-op when it is). Ends with one
# line `N passed, N failed`, counted from the test cases' results.
# Environment: LOPT_BAZEL_BATCH=1 runs Bazel without a server (used by CI).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup.sh --quiet || exit 1

args=("$@")
has_target=0
for arg in "${args[@]}"; do
  case "$arg" in -*) ;; *) has_target=1 ;; esac
done
[ "$has_target" = 1 ] || args+=(//...)

startup=()
[ "${LOPT_BAZEL_BATCH:-0}" = 1 ] && startup+=(--batch)
# Without a writable HOME Bazel has nowhere to put its output root.
if [ -z "${HOME:-}" ] || [ ! -w "${HOME}" ]; then
  startup+=("--output_user_root=/tmp/lopt-bazel-$(id -u)")
fi

events="$(mktemp)"
trap 'rm -f "$events"' EXIT
bazel "${startup[@]}" test --build_event_json_file="$events" "${args[@]}"
status=$?
# Advice only (never the status): the tests whose run left less than 3x slack in their size's timeout, so a
# loaded machine would not time them out (tools/test_sizes.py).
sizes="$(mktemp)"
timeout 300 bazel "${startup[@]}" query --output=xml 'tests(//...)' >"$sizes" 2>/dev/null &&
  timeout 60 "${LOPT_VENV:-$root/.venv}/bin/python3" tools/test_sizes.py --query_xml="$sizes" 2>&1
rm -f "$sizes"
"${LOPT_VENV:-$root/.venv}/bin/python3" tools/bazel/test_summary.py "$events" "$status"
exit "$status"
