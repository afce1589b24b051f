"""``python -m tlcore db migrate --to postgresql://user:pass@host:5432/db [--from PATH]``: copy the data root's
SQLite database (``$TL_HOME/tl.db``) into an empty PostgreSQL database (:mod:`tlcore.runs.migrate`); then set
``TL_DATABASE_URL`` for the dashboard and every worker. Prints ``{"tables": {name: rows}, "to": masked URL}``."""
from __future__ import annotations

import json
import sys


def register(sub, commands: dict) -> None:
    d = sub.add_parser("db", help="the run database: copy tl.db into PostgreSQL (db migrate --to URL)")
    dsub = d.add_subparsers(dest="db_cmd", required=True)
    m = dsub.add_parser("migrate", help="copy the SQLite tl.db into an empty PostgreSQL database (one transaction)")
    m.add_argument("--to", required=True, metavar="URL", help="postgresql://user:password@host:5432/dbname")
    m.add_argument("--from", dest="source", default=None, metavar="PATH",
                   help="the SQLite file (default: tl.db under TL_HOME)")
    commands["db"] = cmd_db


def cmd_db(a) -> int:
    from tlcore.runs import db as dbm
    from tlcore.runs.migrate import migrate
    from tlcore.runs.store import RunStore, default_root

    source = a.source
    if source is None:
        source = RunStore(default_root(), database_url="").db_path  # brings an older tl.db's schema up to date
    copied = migrate(source, a.to)
    print(json.dumps({"tables": copied, "to": dbm.mask(a.to), "from": str(source)}))
    print(f"done: set {dbm.ENV} to this URL for the dashboard and every worker (run folders stay under TL_HOME)",
          file=sys.stderr)
    return 0
