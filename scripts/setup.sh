#!/usr/bin/env bash
# Strongroom set-up: installs what is missing, does nothing when everything is in place.
# Sources: Debian apt (system libraries; chromium for the console's browser tests), npm (anvil
# binary, Safe artifacts, htmx), PyPI (Python deps).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${STRONGROOM_DATA:-$ROOT/.data}
STAMPS=$DATA/stamps
APT_PACKAGES=${STRONGROOM_APT_PACKAGES:-"softhsm2 libsecp256k1-1 chromium chromium-driver"}
PYTHON=${PYTHON:-python3}
mkdir -p "$STAMPS"

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ] && [ -z "${STRONGROOM_SETUP_AS_USER:-}" ]; }
digest() { sha256sum "$@" | sha256sum | cut -c1-32; }
# fresh STAMP FILES...: true when STAMP holds the digest of FILES
fresh() { local stamp=$STAMPS/$1; shift; [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(digest "$@")" ]; }
mark() { local stamp=$STAMPS/$1; shift; digest "$@" > "$stamp"; }

# 1. System packages (Debian).
missing=()
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if is_root; then
    say "installing apt packages: ${missing[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  else
    die "missing apt packages; run: sudo apt-get install -y ${missing[*]}"
  fi
fi

# 2. Node toolchain (anvil binary and Safe artifacts come from npm).
NODE=${NODE:-node}; NPM=${NPM:-npm}
command -v "$NODE" >/dev/null && command -v "$NPM" >/dev/null \
  || die "node and npm not found; run: sudo apt-get install -y nodejs npm"
if [ ! -x node_modules/.bin/anvil ] || ! fresh npm package-lock.json; then
  say "installing npm packages (npm ci)"
  "$NPM" ci --no-audit --no-fund --loglevel=error >/dev/null 2>"$DATA/npm.log" || { cat "$DATA/npm.log" >&2; die "npm ci failed"; }
  mark npm package-lock.json
fi

# 3. Python virtualenv with the pinned dependencies.
command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python 3.11"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3, 11), (3, 12)) else 1)' \
  || die "Python 3.11 or 3.12 required, found $("$PYTHON" --version)"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi
if ! fresh pip pyproject.toml; then
  say "installing Python dependencies (pip)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' >"$DATA/pip.log" 2>&1 \
    || { tail -20 "$DATA/pip.log" >&2; die "pip install failed"; }
  mark pip pyproject.toml
fi

# 4. Contracts, the local mainnet state, the local HSM token and the database.
export PATH=$ROOT/.venv/bin:$ROOT/node_modules/.bin:$PATH
if ! fresh contracts $(find contracts -name '*.vy' | sort) ape-config.yaml; then
  say "compiling contracts (ape compile)"
  .venv/bin/ape compile >"$DATA/compile.log" 2>&1 || { cat "$DATA/compile.log" >&2; die "contract compilation failed"; }
  mark contracts $(find contracts -name '*.vy' | sort) ape-config.yaml
fi
.venv/bin/python scripts/localnet.py build --quiet
.venv/bin/python -m scripts.bootstrap
say "ready"
