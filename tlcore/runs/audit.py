"""The audit log: who started, cancelled or deleted what, and when (``audit`` table of the run database: ``tl.db``,
or PostgreSQL with ``TL_DATABASE_URL``).

Written by the engine's mutating calls (job submit/cancel/delete, run delete, domain add/rename/delete) with the
acting user: the signed-in dashboard user (password or single sign-on) or, from the CLI, ``TL_USER`` / the OS
user. Read with ``python -m tlcore audit`` or, for admins, in the dashboard's sidebar. A failure to write the
log never blocks the action (it is reported on stderr).
"""
from __future__ import annotations

import sys
import time

from tlcore.runs.home import current_user

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    ts REAL NOT NULL, actor TEXT, action TEXT NOT NULL, object TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);
"""


def record(store, actor: str | None, action: str, obj: str, detail: str = "") -> None:
    try:
        with store.connect() as db:
            db.executescript(SCHEMA)
            db.execute("INSERT INTO audit (ts, actor, action, object, detail) VALUES (?,?,?,?,?)",
                       (time.time(), actor or current_user(), action, obj, detail[:500]))
    except Exception as exc:  # noqa: BLE001 - the log must not block the action
        print(f"warning: audit log not written ({action} {obj}): {exc}", file=sys.stderr)


def entries(store, limit: int = 200) -> list[dict]:
    """Newest first."""
    with store.connect() as db:
        db.executescript(SCHEMA)
        rows = db.execute("SELECT * FROM audit ORDER BY ts DESC LIMIT ?", (limit,)).fetchall()
    return [{**dict(r), "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["ts"]))} for r in rows]
