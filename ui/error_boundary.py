"""The dashboard's error boundary (RELIABILITY.md item 82): an uncaught exception in a page shows a generic
message with an incident id, never the traceback (which may name paths or data); the traceback goes to
``$TL_HOME/logs/dashboard-errors.log`` (0600) under that id, so an admin can find it. Installed by
``serve.py`` as ``st.App(on_script_error=report)``; ``client.showErrorDetails = "none"`` covers the rest."""
from __future__ import annotations

import logging
import os
import secrets
import time
import traceback
from pathlib import Path

import streamlit as st

LOG = logging.getLogger("tlstudio.dashboard")


def log_path() -> Path:
    from ui.state import home

    return Path(home()) / "logs" / "dashboard-errors.log"


def report(exc: BaseException) -> bool:
    """``on_script_error`` handler: log under a fresh incident id, show the id; True = no default error UI."""
    incident = secrets.token_hex(4)
    try:
        from ui.auth import signed_in_user

        user = signed_in_user()
    except Exception:  # noqa: BLE001 - no session state
        user = None
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    entry = f"--- incident {incident} at {time.strftime('%Y-%m-%d %H:%M:%S')} user {user or '-'}\n{text}\n"
    try:
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(entry)
    except OSError:
        pass
    LOG.error("incident %s (user %s)\n%s", incident, user or "-", text)
    st.error(f"Something went wrong on this page (incident {incident}). Reload to try again; if it keeps "
             "happening, give the incident id to an admin (the details are in the server's log).")  # md-safe: hex id
    return True
