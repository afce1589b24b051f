"""Where the data root is and who acts: the two facts the run store, the audit log and sign-in share.

A leaf module (standard library only), so :mod:`tlcore.auth` and :mod:`tlcore.runs.audit` can use them while
the run store calls those two (authorization and the audit record of a delete) without an import cycle.
"""
from __future__ import annotations

import getpass
import os
from pathlib import Path


def current_user() -> str:
    """Who acts from this process when no signed-in user is given: ``TL_USER`` or the OS user name."""
    try:
        return os.environ.get("TL_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def default_root() -> Path:
    return Path(os.environ.get("TL_HOME", "tl_data")).expanduser().resolve()
