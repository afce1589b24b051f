"""Benchmark of the defaults a user gets (issue 12): the recommended default (``strategy: auto``) beside
source-only, the frozen linear probe and (images) the small-CNN reference trained from scratch.

    .venv/bin/python bench/defaults.py [--pairs mnist_usps amazon_webcam ...] [--seeds 0 1 2] [--store DIR]

Every row runs through the product's own pipeline (``run_experiment``), one run at a time, appending each
result to ``bench/results/defaults.json`` as it finishes (a stopped benchmark resumes where it stopped).
``bench/results/defaults.md`` is rewritten from the JSON after every run. Target unlabeled throughout.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "results"

OFFICE = {"amazon", "caltech10", "dslr", "webcam"}
TEXT = {"books", "kitchen"}
PUBLISHED = {
    "mnist_usps": "source only 75.2-82.1; DANN 77.1-91.7; CDAN 96.0 (LeNet, full data)",
    "usps_mnist": "source only 57.1-74.6; DANN 73.0-95.2; ADDA 98.3",
    "books_kitchen": "source only 77.8; DANN 77.9; DANN+mSDA 84.3 (bag of words)",
    "kitchen_books": "source only 70.8; DANN 70.9; best 71.8-76.9",
    "amazon_webcam": "Office-31 A->W (ResNet-50): source only 68-76, DANN 82-91, CDAN/MCC 93-94",
    "caltech10_amazon": "Office-Caltech-10 C->A (DeCAF/ResNet features): 91-95",
    "webcam_caltech10": "Office-Caltech-10 W->C: 80-90",
    "dslr_amazon": "Office-Caltech-10 D->A: 85-93",
}
ROWS_IMAGE = ("small_cnn_reference", "linear_probe", "source_only", "recommended", "recommended_twin")
ROWS_TEXT = ("linear_probe", "source_only", "source_only_partial", "recommended")
# rows only reported: the text default before cached partial fine-tuning became the default (frozen MiniLM + MCC)
ROWS_HISTORY = ("recommended_frozen_earlier", "recommended_no_warmup_earlier", "recommended_no_views_earlier")


def domain(name: str) -> dict:
    if name in ("mnist", "usps"):
        return {"path": str(DATA / "digits_mnist_usps" / f"{name}.zip")}
    if name in OFFICE:
        return {"path": str(DATA / "office_caltech10" / f"{name}.zip")}
    if name in TEXT:
        return {"path": str(DATA / "amazon_reviews" / f"{name}.csv"), "text_column": "text", "label_column": "label"}
    raise SystemExit(f"unknown domain {name!r}")


def config_for(pair: str, row: str, seed: int) -> dict:
    from tlcore.evaluation.sanity import reference_config

    src, tgt = pair.split("_")
    base = {"source": domain(src), "target": domain(tgt), "seed": seed,
            "max_samples_per_domain": 2000 if src in ("mnist", "usps") else None}
    text = src in TEXT
    if row == "recommended":
        return {**base, "strategy": "auto"}
    if row == "recommended_twin":  # what "Show what transfer buys" runs beside it: same network and views, no MCC
        from tlcore.recommend import resolve_auto, source_only_twin

        return source_only_twin(resolve_auto({**base, "strategy": "auto"}))
    if row == "small_cnn_reference":
        return reference_config(base)
    common = {"backbone": "minilm_l6" if text else "efficientnet_lite0", "epochs": 30, "batch_size": 64,
              "lr": 1e-3}
    if row == "linear_probe":
        return {**base, **common, "strategy": "linear_probe"}
    if row == "source_only":  # the recommended network with trade-off 0: frozen backbone + bottleneck + head
        return {**base, **common, "strategy": "fine_tuning", "params": {"freeze_backbone": True}, "bottleneck": 256}
    if row == "source_only_partial":  # the text default's own network and schedule with trade-off 0
        from tlcore.recommend import FINE_TUNING_FIELDS, RECOMMENDED

        rec = {k: v for k, v in RECOMMENDED["text"].items() if k not in ("evidence", "strategy", "checkpoint",
                                                                         "early_stopping_patience")}
        rec["params"] = {k: v for k, v in rec["params"].items() if k in FINE_TUNING_FIELDS}
        return {**base, **rec, "strategy": "fine_tuning", "checkpoint": "best_val"}
    raise SystemExit(f"unknown row {row!r}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", default=list(PUBLISHED))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--rows", nargs="+", default=None)
    ap.add_argument("--store", default=os.environ.get("TL_BENCH_STORE", "/tmp/tl_bench_defaults"))
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    os.environ["TL_HOME"] = a.store
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    path = OUT / "defaults.json"
    results = json.loads(path.read_text()) if path.exists() else []
    done = {(r["pair"], r["row"], r["seed"]) for r in results}
    store = RunStore(a.store)
    for seed in a.seeds:
        for pair in a.pairs:
            rows = ROWS_TEXT if pair.split("_")[0] in TEXT else ROWS_IMAGE
            for row in a.rows or rows:
                if a.report_only or (pair, row, seed) in done or row not in rows:
                    continue
                cfg = RunConfig.from_dict(config_for(pair, row, seed))
                t0 = time.time()
                rec = run_experiment(cfg, store)
                m = store.metrics(rec.run_id)
                tt = m.get("target_test", {})
                results.append({"pair": pair, "row": row, "seed": seed, "run_id": rec.run_id,
                                "strategy": cfg.strategy, "resolved_from": cfg.resolved_from,
                                "target_acc": tt.get("accuracy"), "target_ci": tt.get("accuracy_ci"),
                                "source_val_acc": m.get("source_val", {}).get("accuracy"),
                                "seconds": round(time.time() - t0, 1), "load1": round(os.getloadavg()[0], 1),
                                "machine": machine(),
                                "flags": [f["kind"] for f in m.get("flags", [])],
                                "settings": {k: v for k, v in cfg.to_dict().items() if k not in ("source", "target")}})
                path.write_text(json.dumps(results, indent=1))
                print(json.dumps(results[-1] | {"settings": None}), flush=True)
                write_report(results)
    write_report(results)


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """The CPU and whether it has native bf16 (feature extraction runs in bf16 only there: speed, not accuracy)."""
    from tlcore.training.device import cpu_supports_bf16

    return f"{cpu_name()}, {os.cpu_count()} cores, {'AVX512_BF16' if cpu_supports_bf16() else 'no native bf16'}"


def write_report(results: list) -> None:
    import torch

    pairs = [p for p in PUBLISHED if any(r["pair"] == p for r in results)]
    rows = list(ROWS_IMAGE) + ["source_only_partial", *ROWS_HISTORY]
    lines = ["# The defaults a user gets: target accuracy (%), mean +- std over seeds", "",
             "Machines (no GPU, torch " + torch.__version__ + "): " + "; ".join(
                 f"{m} ({n} runs)" for m, n in Counter(r.get("machine", "unrecorded") for r in results).items())
             + f". Report written {time.strftime('%Y-%m-%d')}. Target unlabeled. Written by `bench/defaults.py` "
             "from `defaults.json` (each run names its machine there). Seconds are wall times, mostly while other "
             "processes shared the 2 cores (load per pair below).", "",
             "| row | " + " | ".join(p.replace("_", " -> ") for p in pairs) + " |",
             "|---|" + "---:|" * len(pairs)]
    for row in rows:
        cells = []
        for p in pairs:
            accs = [r["target_acc"] for r in results if r["pair"] == p and r["row"] == row and r["target_acc"] is not None]
            if not accs:
                cells.append("")
                continue
            sd = statistics.stdev(accs) * 100 if len(accs) > 1 else 0.0
            cells.append(f"{statistics.mean(accs) * 100:.1f} +- {sd:.1f} (n={len(accs)})")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    loads = {p: [r["load1"] for r in results if r["pair"] == p and "load1" in r] for p in pairs}
    for p, ls in loads.items():
        if ls:
            lines += ["", f"{p.replace('_', ' -> ')}: load average (1 min) at the end of its runs "
                      f"{min(ls):.1f}-{max(ls):.1f} (the text above gives the load for pairs without this)."]
    lines += ["", "| pair | mean seconds per run (recommended) | flags raised | published |", "|---|---:|---|---|"]
    for p in pairs:
        secs = [r["seconds"] for r in results if r["pair"] == p and r["row"] == "recommended"]
        flags = sorted({f"{r['row']}: {f}" for r in results if r["pair"] == p for f in r.get("flags", [])})
        lines.append(f"| {p.replace('_', ' -> ')} | {statistics.mean(secs):.0f} | {', '.join(flags) or 'none'} | "
                     f"{PUBLISHED[p]} |" if secs else f"| {p.replace('_', ' -> ')} | | | {PUBLISHED[p]} |")
    for modality, names in (("images", OFFICE | {"mnist", "usps"}), ("texts", TEXT)):
        rec = next((r for r in reversed(results) if r["row"] == "recommended" and r["pair"].split("_")[0] in names),
                   None)  # the newest: what the default is now
        if rec:
            s = rec["settings"]
            size = f"image size {s['image_size']}" if modality == "images" else f"max length {s['max_length']}"
            lines += ["", f"Recommended default for {modality} as resolved (`strategy: auto`, CPU): strategy "
                      f"`{s['strategy']}`, params `{s['params']}`, backbone `{s['backbone']}`, {size}, bottleneck "
                      f"{s['bottleneck']}, epochs {s['epochs']}, batch {s['batch_size']}, lr {s['lr']}, checkpoint "
                      f"`{s.get('checkpoint')}`" + (f", feature views {s['feature_views']}" if s.get("feature_views") else "")
                      + "."]
    lines += ["", "source_only = the image default's network with no transfer loss (fine_tuning, frozen backbone, "
              "256-wide bottleneck, best source-validation checkpoint); source_only_partial = the text default's "
              "network and schedule (last MiniLM layer trained) with no transfer loss, best source-validation "
              "checkpoint; recommended_frozen_earlier = the text default before cached partial fine-tuning (MCC on "
              "frozen MiniLM features); recommended_twin = the recommended run's source-only twin as the Train page's Show what transfer buys runs it (the same network, feature views and split; no transfer loss; best source-validation checkpoint); recommended_no_views_earlier = the image default before it cached 2 augmented views of the source (`feature_views: 2`); recommended_no_warmup_earlier = the text default before MCC's weight was "
              "ramped up over the first epoch (`warmup: 0.5`); linear_probe = frozen backbone + linear head; small_cnn_reference = LeNet-size CNN from "
              "scratch on the source at 32 px, 15 epochs, augmented. Digits: 2,000 per domain (seeded, "
              "stratified); Office-Caltech-10 and reviews: every sample. Target test = half of the target."]
    (OUT / "defaults.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
