#!/usr/bin/env bash
# Create .venv and install the locked versions (idempotent: fast when already installed).
#   bash scripts/setup.sh requirements.txt      -> requirements.lock      (the dashboard, scripts/start.sh)
#   bash scripts/setup.sh requirements-dev.txt  -> requirements-dev.lock  (the tests, scripts/test.sh)
# The locks pin every package, transitive ones included, with sha256 hashes (scripts/lock.sh writes them);
# requirements*.txt keep the floors for installing into an environment of your own.
set -euo pipefail
cd "$(dirname "$0")/.."
req="${1:-requirements.txt}"
lock="${req%.txt}.lock"
if [ ! -f "$lock" ]; then
  echo "setup: $lock is missing (bash scripts/lock.sh writes it)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum "$lock" | cut -c1-12)-$(basename "$lock")"
if [ ! -f "$stamp" ]; then
  # the servers' pip config lists local wheel folders; its warnings about absent index folders are noise
  noise="is ignored: it is neither a file nor a directory"
  pip_version="$(sed -n 's/^# pip==//p' "$lock")"
  if [ -n "$pip_version" ] && [ "$(.venv/bin/python -m pip --version | cut -d' ' -f2)" != "$pip_version" ]; then
    .venv/bin/python -m pip install -q "pip==$pip_version" 2>&1 | { grep -v "$noise" || true; }
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "setup: could not install pip==$pip_version" >&2; exit 1; }
  fi
  .venv/bin/python -m pip install -q --require-hashes -r "$lock" 2>&1 | { grep -v "$noise" || true; }
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "setup: installing $lock failed (see above)" >&2; exit 1; }
  .venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check >&2; exit 1; }
  .venv/bin/python - "$lock" <<'PY'
import sys
from importlib import metadata
want = {}
for line in open(sys.argv[1]):
    if "==" in line and not line.startswith("#"):
        name, version = line.split("==")[0].strip(), line.split("==")[1].split()[0]
        want[name] = version
bad = []
for name, version in want.items():
    try:
        got = metadata.version(name)
    except metadata.PackageNotFoundError:
        got = None
    if got != version:
        bad.append(f"{name}: locked {version}, installed {got}")
if bad:
    sys.exit("setup: the environment does not match the lock:\n  " + "\n  ".join(bad))
PY
  touch "$stamp"
fi
