"""Fair shares: which queued job a free slot takes next.

Not first in, first out: users are served round-robin. The next job is the oldest queued job of the user with the
fewest running jobs, ties going to the user served least recently (whose last job started earliest, or never), then
to the oldest job. So when user A queues five jobs and then user B one, B's job runs second, not sixth. A user with
``TL_MAX_RUNNING_PER_USER`` running jobs (default 0: no limit) is skipped until one of them ends. Within a lane
(the light slots take only light kinds) the running jobs counted are those of the lane's kinds.
"""
from __future__ import annotations

import time

from tlcore import settings
from tlcore.runs.db import for_update, same



def max_running_per_user() -> int:
    """``TL_MAX_RUNNING_PER_USER`` (default 0 = no limit): running jobs one user may have at a time."""
    return max(0, settings.get_int("TL_MAX_RUNNING_PER_USER"))


def ensure_index(db) -> None:
    """The index the choice reads (who started what when); created after the owner column's migration."""
    db.executescript("CREATE INDEX IF NOT EXISTS jobs_owner_started ON jobs(owner, started);")


def next_row(db, kinds: tuple[str, ...] | None = None, lock: bool = False):
    """The row of the queued job to start next (of ``kinds`` when given), or None. ``db``: an open connection
    (inside the claim's transaction when claiming, with ``lock``: on PostgreSQL the row is locked, and a row another
    claimer holds is skipped)."""
    only = f" AND kind IN ({','.join('?' * len(kinds))})" if kinds else ""
    args = tuple(kinds or ())
    limit = max_running_per_user()
    cap = " AND COALESCE(r.n, 0) < ?" if limit > 0 else ""
    q = (f"WITH running AS (SELECT owner, COUNT(*) AS n FROM jobs WHERE status='running'{only} GROUP BY owner), "
         "served AS (SELECT owner, MAX(started) AS last FROM jobs WHERE started > ? GROUP BY owner) "
         f"SELECT j.* FROM jobs j LEFT JOIN running r ON {same(db, 'r.owner', 'j.owner')} "
         f"LEFT JOIN served s ON {same(db, 's.owner', 'j.owner')} "
         f"WHERE j.status='queued'{only.replace('kind', 'j.kind')}{cap} "
         "ORDER BY COALESCE(r.n, 0), COALESCE(s.last, 0), j.created LIMIT 1"
         + (for_update(db, skip_locked=True, of="j") if lock else ""))
    week_ago = time.time() - 7 * 86400  # "served least recently" within a week; older starts count as never
    return db.execute(q, (*args, week_ago, *args, *((limit,) if limit > 0 else ()))).fetchone()
