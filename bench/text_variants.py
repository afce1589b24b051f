"""Variants of the recommended default (``strategy: auto`` resolved, then overridden): on the review pairs by
default (CPU row: MCC, MiniLM's last layer trained on cached hidden states), on image pairs with ``--pairs``;
results append to bench/results/text_variants.json (``--out`` for another file).

    .venv/bin/python bench/text_variants.py --variant warmup50 --pairs kitchen_books books_kitchen --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

VARIANTS = {
    "default": {},
    "warmup50": {"params": {"warmup": 0.5}},
    "warmup100": {"params": {"warmup": 1.0}},
    "warmup25": {"params": {"warmup": 0.25}},
    "e3_warmup33": {"epochs": 3, "params": {"warmup": 0.34}},
    "views2": {"feature_views": 2},
    "views4": {"feature_views": 4},
    "views0": {"feature_views": 0},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", required=True, choices=list(VARIANTS))
    ap.add_argument("--pairs", nargs="+", default=["kitchen_books", "books_kitchen"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--store", default="/tmp/tl_bench_text_variants")
    ap.add_argument("--out", default="text_variants.json", help="file under bench/results/")
    ap.add_argument("--twin", action="store_true", help="also run each config's source-only twin")
    a = ap.parse_args()
    os.environ["TL_HOME"] = a.store
    from defaults import config_for, machine
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.recommend import resolve_auto, source_only_twin
    from tlcore.runs.store import RunStore

    out = ROOT / "bench" / "results" / a.out
    rows = json.loads(out.read_text()) if out.exists() else []
    store = RunStore(a.store)
    for seed in a.seeds:
        for pair in a.pairs:
            raw = resolve_auto(config_for(pair, "recommended", seed))
            over = VARIANTS[a.variant]
            raw = {**raw, **{k: v for k, v in over.items() if k != "params"},
                   "params": {**raw.get("params", {}), **over.get("params", {})}}
            for twin in ([False, True] if a.twin else [False]):
                cfg = source_only_twin(raw) if twin else raw
                t0 = time.time()
                rec = run_experiment(RunConfig.from_dict(cfg), store)
                m = store.metrics(rec.run_id)
                rows.append({"pair": pair, "variant": a.variant + ("_twin" if twin else ""), "seed": seed,
                             "run_id": rec.run_id, "target_acc": m.get("target_test", {}).get("accuracy"),
                             "source_val_acc": m.get("source_val", {}).get("accuracy"),
                             "seconds": round(time.time() - t0, 1), "machine": machine(),
                             "date": time.strftime("%Y-%m-%d")})
                out.write_text(json.dumps(rows, indent=1) + "\n")
                print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
