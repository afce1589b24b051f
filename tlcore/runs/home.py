"""Where the data root is and who acts: the two facts the run store, the audit log and sign-in share.

A leaf module (standard library and the settings registry, itself a leaf), so :mod:`tlcore.auth` and
:mod:`tlcore.runs.audit` can use them while the run store calls those two (authorization and the audit record of a
delete) without an import cycle.
"""
from __future__ import annotations

import getpass
from pathlib import Path

from tlcore import settings


def current_user() -> str:
    """Who acts from this process when no signed-in user is given: ``TL_USER`` or the OS user name."""
    try:
        return settings.get("TL_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def default_root() -> Path:
    home = settings.get("TL_HOME")
    return Path("tl_data" if home is None else home).expanduser().resolve()
