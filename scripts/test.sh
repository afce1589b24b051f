#!/usr/bin/env bash
# Set up (first time) and run the whole test suite, browser test included when Chromium can be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "warning: could not install chromium; the browser test will be skipped"
fi
export TL_CPU_BF16="${TL_CPU_BF16:-}"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
