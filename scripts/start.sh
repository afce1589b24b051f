#!/usr/bin/env bash
# Set up (first time) and start the TL Studio dashboard on http://localhost:8501 (built-in demos included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
export TL_HOME="${TL_HOME:-$PWD/tl_data}"
exec .venv/bin/python -m streamlit run serve.py "$@"  # app.py behind the /media/ sign-in guard
