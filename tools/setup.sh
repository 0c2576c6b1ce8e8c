#!/usr/bin/env bash
# Installs everything lopt needs on a Debian machine, idempotently:
#   1. Debian packages: bazel-bootstrap (Bazel 4.2.3, works offline here) and a
#      Python 3 with venv, if they are missing (needs root or sudo);
#   2. the pinned Python environment: a virtualenv at .venv (or $LOPT_VENV)
#      holding exactly requirements.lock;
#   3. .bazelrc.venv: a stamp of that environment, so Bazel's cached test
#      results go stale when it changes.
# A second run installs nothing. Options: --quiet (only report changes).
# Environment: PYTHON (interpreter that creates the venv, default python3),
# LOPT_VENV (venv location, default <repo>/.venv).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
quiet=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    *) echo "setup.sh: unknown option '$arg' (known: --quiet)" >&2; exit 2 ;;
  esac
done
say() { echo "setup: $*" >&2; }
info() { [ "$quiet" = 1 ] || say "$@"; }

# 1. Debian packages.
python="${PYTHON:-python3}"
packages=()
command -v bazel >/dev/null 2>&1 || packages+=(bazel-bootstrap)
if ! command -v "$python" >/dev/null 2>&1; then
  packages+=(python3 python3-venv)
  python=/usr/bin/python3
elif ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  packages+=(python3-venv)
fi
[ -e /etc/ssl/certs/ca-certificates.crt ] || packages+=(ca-certificates)
if [ "${#packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    say "missing Debian packages: ${packages[*]}; run as root or install them with apt-get."
    exit 1
  fi
  say "installing Debian packages: ${packages[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
else
  info "Debian packages present (bazel: $(command -v bazel), python: $(command -v "$python"))"
fi

# 2. The pinned virtualenv.
venv="${LOPT_VENV:-$root/.venv}"
lock="$root/requirements.lock"
lock_hash="$(sha256sum "$lock" | cut -c1-16)"
stamp="$venv/.lopt-requirements-lock"
if [ ! -x "$venv/bin/python3" ]; then
  say "creating the virtualenv $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  say "installing requirements.lock into $venv"
  pip=("$venv/bin/python3" -m pip --disable-pip-version-check)
  "${pip[@]}" install --quiet --upgrade pip
  "${pip[@]}" install --quiet -r "$lock"
  "${pip[@]}" check >/dev/null
  echo "$lock_hash" > "$stamp"
else
  info "virtualenv $venv matches requirements.lock"
fi

# 3. The environment stamp that Bazel passes to every test.
env_hash="$("$venv/bin/python3" -m pip freeze --all --disable-pip-version-check | sha256sum | cut -c1-16)"
rc="test --test_env=LOPT_VENV_STAMP=$env_hash"
if [ "$(cat "$root/.bazelrc.venv" 2>/dev/null)" != "$rc" ]; then
  echo "$rc" > "$root/.bazelrc.venv"
  info "wrote .bazelrc.venv"
fi
