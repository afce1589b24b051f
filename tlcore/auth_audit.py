"""The audit log of refused changes (:func:`audit_refusal`), written without a run store, and who this process
runs as (:func:`os_user`); used by :mod:`tlcore.auth`, which re-exports them."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from tlcore.runs.home import default_root


class AuditDB:
    """Just enough of a run store for :func:`tlcore.runs.audit.record` (the run store itself imports this module:
    no cycle); an autocommit connection to the data root's existing ``tl.db``, or to the PostgreSQL database of
    ``TL_DATABASE_URL``."""

    def __init__(self, root):
        from tlcore.runs.db import database_url

        self.path = (Path(root).expanduser().resolve() if root else default_root()) / "tl.db"
        self.url = database_url()

    @contextmanager
    def connect(self):
        import sqlite3

        if self.url:
            from tlcore.runs.db import postgres

            with postgres(self.url).connect() as db:
                yield db
            return

        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()


def audit_refusal(actor: str | None, action: str, what: str, why: str, root=None) -> None:
    """Write a refused change to the audit log (``refused: <action>``); never blocks or raises."""
    try:
        from tlcore.runs import audit

        db = AuditDB(root)
        if db.url or db.path.exists():  # no data root yet: nothing to protect, and no world-readable file to create
            audit.record(db, actor or os_user(), f"refused: {action}", what, why)
    except Exception:  # noqa: BLE001 - the log never blocks the answer
        pass


def os_user() -> str:
    """The OS account of this process from the password database (not ``getpass.getuser()``, which believes the
    ``LOGNAME``/``USER`` variables anyone can set)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # no passwd entry in some containers
        return f"uid{os.geteuid()}" if hasattr(os, "geteuid") else "unknown"
