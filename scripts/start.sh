#!/usr/bin/env bash
# Set up (first time) and start the TL Studio dashboard on http://localhost:8501 (built-in demos included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
export TL_HOME="${TL_HOME:-$PWD/tl_data}"
# A stable cookie secret (created once in $TL_HOME/cookie_secret, mode 0600): Streamlit's default is a new random
# one per process, so a restart would sign everyone out and answer open pages' uploads with 403 (XSRF).
# An admin's own STREAMLIT_SERVER_COOKIE_SECRET or server.cookieSecret in .streamlit/config.toml wins.
cookie_secret="$(.venv/bin/python -m tlcore.server_checks --cookie-secret)"
if [ -n "$cookie_secret" ]; then
  export STREAMLIT_SERVER_COOKIE_SECRET="$cookie_secret"
fi
unset cookie_secret
exec .venv/bin/python -m streamlit run serve.py "$@"  # app.py behind the /media/ sign-in guard
