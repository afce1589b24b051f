"""Domain-gap figures of the adaptation benchmark's runs: before (pretrained backbone features) and after
(the features the head reads), mean over seeds, per strategy and pair.

    .venv/bin/python bench/gap_summary.py --store /tmp/adapt_store [--out bench/results/adaptation_gap.md]

Reads ``metrics.embeddings.gap`` of every completed run in the store (written by the pipeline on the
source-validation and target-test features), and the pair from the run's config.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIGS = ("mmd", "a_distance", "coral")


def pair_of(cfg: dict) -> str:
    def name(spec):
        return Path(spec.get("path") or spec.get("demo") or "?").stem
    return f"{name(cfg['source'])} -> {name(cfg['target'])}"


def main() -> None:
    from tlcore.runs.store import RunStore

    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "adaptation_gap.md"))
    a = ap.parse_args()
    store = RunStore(a.store)
    cells: dict = defaultdict(lambda: defaultdict(list))
    for rec in store.list(status="completed"):
        gap = (store.metrics(rec.run_id).get("embeddings") or {}).get("gap") or {}
        if not gap.get("before") or not gap.get("after"):
            continue
        key = (pair_of(rec.config), rec.config["strategy"])
        for when in ("before", "after"):
            for f in FIGS:
                v = gap[when].get(f)
                if v is not None:
                    cells[key][f"{when}.{f}"].append(float(v))
        cells[key]["acc"].append(float(rec.target_acc or 0.0))
    pairs = sorted({p for p, _ in cells})
    lines = ["# Domain gap before and after adaptation (adaptation benchmark runs)", "",
             "Before: the frozen pretrained backbone's features; after: the 256-wide bottleneck the head reads "
             "(for `linear_probe`, the backbone features again). Source validation vs target test samples, "
             "mean over seeds. MMD: Gaussian kernel, median bandwidth; PAD: proxy A-distance, 2(1 - 2 err) of a "
             "cross-validated logistic domain classifier (0 = indistinguishable, 2 = separable); CORAL: "
             "covariance distance. Lower is closer.", ""]
    for p in pairs:
        lines += [f"## {p}", "", "| strategy | target acc (%) | MMD before | MMD after | PAD before | PAD after | "
                  "CORAL before | CORAL after |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for (pp, s), d in sorted(cells.items(), key=lambda kv: kv[0][1]):
            if pp != p:
                continue
            m = {k: float(np.mean(v)) for k, v in d.items()}
            lines.append(f"| {s} | {100 * m['acc']:.1f} | " + " | ".join(
                f"{m.get(f'{w}.{f}', float('nan')):.3g}" for f in FIGS for w in ("before", "after")) + " |")
        lines.append("")
    Path(a.out).write_text("\n".join(lines))
    print("\n".join(lines))
    Path(a.out).with_suffix(".json").write_text(json.dumps(
        {f"{p} | {s}": {k: float(np.mean(v)) for k, v in d.items()} for (p, s), d in cells.items()}, indent=1))


if __name__ == "__main__":
    main()
