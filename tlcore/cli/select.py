"""``python -m tlcore select RUN_ID... [--by VALIDATOR]``: pick a run without target labels.

Prints the ranking on stderr and, as the last stdout line, ``{"by", "run_id", "score", "label", "ranking",
"unscored"}``. Validators: see ``tlcore/evaluation/validators.py`` (default: the benchmark's best).
"""
from __future__ import annotations

import json
import sys


def register(sub, commands: dict) -> None:
    from tlcore.evaluation.validators import DEFAULT, VALIDATORS

    p = sub.add_parser("select", help="choose among runs by an unsupervised validator (no target labels)")
    p.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    p.add_argument("--by", default=DEFAULT, choices=list(VALIDATORS), help=f"validator (default: {DEFAULT})")
    commands["select"] = _select


def _select(a) -> int:
    from tlcore.evaluation.selection import select
    from tlcore.runs.store import RunStore

    out = select(RunStore(), a.run_ids, a.by)  # an unknown run id raises RunNotFound (exit 2, named)
    for row in out["ranking"]:
        gated = "  (below the gate's median: ranked last)" if row["gated"] else ""
        print(f"{row['rank']:>3}  {row['run_id']}  {a.by}={row['score']:.4f}{gated}", file=sys.stderr)
    if out["unscored"]:
        print(f"not scored by {a.by} (older or classical runs): {', '.join(out['unscored'])}", file=sys.stderr)
    print(json.dumps(out))
    return 0 if out["run_id"] else 1
