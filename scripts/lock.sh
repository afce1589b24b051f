#!/usr/bin/env bash
# Refresh requirements.lock / requirements-dev.lock from requirements.txt / requirements-dev.txt (today's index),
# then check that the locks install (hash-checked) and that the suite passes on them:
#   bash scripts/check-latest.sh && bash scripts/lock.sh && bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/lock.py 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
test -s requirements.lock && test -s requirements-dev.lock
