#!/usr/bin/env bash
# Would today's package index break a fresh install? Builds a throwaway environment from the unpinned
# requirements (requirements-dev.txt: whatever the index serves today), prints every version that differs from
# requirements-dev.lock, and runs the real-model smoke tests plus a fast subset of the suite on it.
# Green -> the lock may move forward: bash scripts/lock.sh && bash scripts/test.sh
# Usage: bash scripts/check-latest.sh [extra pytest args]   (keep the environment: TL_KEEP_LATEST_VENV=1)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d /tmp/tl-latest-XXXXXX)"
cleanup() { if [ -z "${TL_KEEP_LATEST_VENV:-}" ]; then rm -rf "$venv"; else echo "kept $venv"; fi; }
trap cleanup EXIT
python3 -m venv "$venv"
noise="is ignored: it is neither a file nor a directory"
"$venv/bin/python" -m pip install -q --upgrade pip 2>&1 | { grep -v "$noise" || true; }
"$venv/bin/python" -m pip install -q -r requirements-dev.txt 2>&1 | { grep -v "$noise" || true; }
echo "== versions that differ from requirements-dev.lock (locked -> latest)"
"$venv/bin/python" - requirements-dev.lock <<'PY'
import sys
from importlib import metadata
locked = {}
for line in open(sys.argv[1]):
    if "==" in line and not line.startswith("#"):
        locked[line.split("==")[0].strip()] = line.split("==")[1].split()[0]
now = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in metadata.distributions()}
diff = [(n, locked.get(n, "-"), now.get(n, "-")) for n in sorted(set(locked) | set(now))
        if locked.get(n) != now.get(n) and n not in ("pip", "setuptools", "wheel")]
for n, a, b in diff:
    print(f"  {n}: {a} -> {b}")
print(f"  {len(diff)} package(s) differ" if diff else "  none: the index serves exactly the locked versions")
PY
echo "== smoke tests (real embedded models through the CLI) and a fast subset of the suite"
# the fast subset: the models, training, strategies and data layers (no browser, no Ray, no job system)
"$venv/bin/python" -m pytest -q -p no:cacheprovider \
  tests/tlcore/test_real_models_cli.py tests/tlcore/models tests/tlcore/training tests/tlcore/strategies tests/tlcore/data \
  -m "not e2e" "$@" && echo "check-latest: GREEN on today's index" || { echo "check-latest: RED"; exit 1; }
