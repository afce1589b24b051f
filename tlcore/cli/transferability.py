"""``python -m tlcore rank-backbones --source SPEC [--backbones NAME ...]``: LogME and N-LEEP of every backbone
that loads here, on a sample of the labeled source, before any training (tlcore/transferability).

Progress on stderr; the last stdout line is ``{"status", "rows": [{"backbone", "logme", "nleep", "rank", ...}],
"skipped", ...}``; the result is also cached under ``$TL_HOME/transferability/`` for the Train page.
"""
from __future__ import annotations

import json
import sys


def register(sub, commands: dict) -> None:
    from tlcore.transferability.ranking import RANK_CAP

    p = sub.add_parser("rank-backbones", help="rank backbones for a source domain (LogME, N-LEEP; no training)")
    p.add_argument("--source", required=True, help='domain spec as JSON, e.g. \'{"demo": "digits"}\'')
    p.add_argument("--backbones", nargs="+", default=None, help="names to score (default: all of the modality)")
    p.add_argument("--max", type=int, default=RANK_CAP, help="source samples (seeded, stratified)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--device", default=None)
    commands["rank-backbones"] = _rank


def _rank(a) -> int:
    from tlcore.runs.store import default_root
    from tlcore.transferability.ranking import rank_backbones

    try:
        source = json.loads(a.source)
    except ValueError as exc:
        print(f"error: --source is not JSON: {exc}", file=sys.stderr)
        return 2
    out = rank_backbones(source, default_root(), backbones=a.backbones, cap=a.max, seed=a.seed,
                         image_size=a.image_size, device=a.device)
    for r in out["rows"]:
        print(f"{r['rank']:>2}  {r['backbone']:<28} LogME {r['logme']:+.4f}  N-LEEP {r['nleep']:+.4f}  "
              f"({r['seconds']} s)", file=sys.stderr)
    for s in out["skipped"]:
        print(f"    skipped {s['backbone']}: {s['reason']}", file=sys.stderr)
    print(json.dumps(out))
    return 0
