#!/usr/bin/env bash
# Run the whole suite through `ape test` on a fork of the upstream chain named in ape-config.yaml.
# When that upstream is the local mainnet (the default), serve it for the duration of the run.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH
UPSTREAM=$(.venv/bin/python -c "import yaml; print(yaml.safe_load(open('ape-config.yaml'))['node']['ethereum']['mainnet']['uri'])")
LOCAL=$(.venv/bin/python scripts/localnet.py url)   # the local mainnet's URL (keeper.config.Settings)
started=0
cleanup() { if [ "$started" = 1 ]; then .venv/bin/python scripts/localnet.py stop >/dev/null; fi; }
trap cleanup EXIT
if [[ "${UPSTREAM%/}" == "$LOCAL" ]]; then
  if ! .venv/bin/python scripts/localnet.py status | grep -q serving; then
    .venv/bin/python scripts/localnet.py start || exit 1
    started=1
  else
    .venv/bin/python scripts/localnet.py start >/dev/null || exit 1   # restarts a stale one
  fi
else
  echo "test: forking the upstream at $UPSTREAM"
fi
.venv/bin/ape test "$@"
rc=$?
if [ "$rc" = 5 ]; then echo "test: error: no tests were collected" >&2; exit 1; fi
exit "$rc"
