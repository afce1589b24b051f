"""``python -m tlcore cache [--clear] [--json]``: the size of the on-disk feature and prefix caches under
``<TL_HOME>/cache/`` and their cap (``TL_CACHE_MAX_GB``); ``--clear`` removes them (always safe: runs recompute
what they need)."""
from __future__ import annotations

import json


def register(sub, commands: dict) -> None:
    p = sub.add_parser("cache", help="show (or --clear) the frozen-feature and prefix caches and their size cap")
    p.add_argument("--clear", action="store_true", help="remove every cached file")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    commands["cache"] = _cache


def _cache(a) -> int:
    from tlcore import cache_budget
    from tlcore.runs.store import default_root

    root = default_root() / "cache"
    freed = cache_budget.clear(root) if a.clear else 0
    use = cache_budget.usage(root)
    cap = cache_budget.max_bytes()
    if a.json:
        print(json.dumps({"folder": str(root), "usage": use, "cap_bytes": cap, "freed_bytes": freed}))
        return 0
    gb = 1024 ** 3
    for kind in ("features", "prefix", "total"):
        print(f"{kind:9s} {use[kind]['files']:5d} files {use[kind]['bytes'] / gb:8.2f} GB")
    print(f"cap       {'none' if cap is None else f'{cap / gb:.2f} GB'} (TL_CACHE_MAX_GB); folder {root}")
    if a.clear:
        print(f"cleared {freed / gb:.2f} GB")
    return 0
