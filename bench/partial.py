"""Benchmark of cached partial fine-tuning (issue 12): the top ``k`` layer groups of the backbone train on the
cached output of the frozen layers below (``params.train_last_groups = k``), with MCC and source-only, beside
the frozen-feature figures of ``bench/results/defaults.json``.

    .venv/bin/python bench/partial.py --pairs books_kitchen kitchen_books --rows mcc_top1 --seeds 0

Rows: ``source_only_top{k}`` (fine_tuning, best source-validation checkpoint, as defaults' source_only) and
``mcc_top{k}`` (MCC, last epoch kept, as the recommended default). Every run goes through the product's
pipeline (``run_experiment``); results are appended to ``bench/results/partial.json`` as they finish (a stopped
benchmark resumes), and ``bench/results/partial.md`` is rewritten from it after every run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
OUT = ROOT / "bench" / "results"

from defaults import PUBLISHED, TEXT, cpu_name, domain  # noqa: E402

# per modality: epochs, lr (head), backbone lr factor; the top layer groups train at lr x factor
SETTINGS = {"text": {"backbone": "minilm_l6", "epochs": 2, "lr": 1e-3, "factor": 0.1},
            "image": {"backbone": "efficientnet_lite0", "epochs": 10, "lr": 1e-3, "factor": 0.1}}


def config_for(pair: str, row: str, seed: int) -> dict:
    src, tgt = pair.split("_")
    modality = "text" if src in TEXT else "image"
    s = SETTINGS[modality]
    kind, k = row.rsplit("_top", 1)
    k, _, factor = k.partition("_f")  # e.g. mcc_top1_f1.0: the top layer groups at lr x 1.0
    params = {"train_last_groups": int(k), "backbone_lr_factor": float(factor) if factor else s["factor"]}
    cfg = {"source": domain(src), "target": domain(tgt), "seed": seed, "backbone": s["backbone"],
           "epochs": s["epochs"], "batch_size": 32 if modality == "text" else 64, "lr": s["lr"], "bottleneck": 256,
           "max_samples_per_domain": 2000 if src in ("mnist", "usps") else None, "params": params}
    if kind == "mcc":
        return {**cfg, "strategy": "mcc", "checkpoint": "last", "early_stopping_patience": 0}
    if kind == "source_only":
        return {**cfg, "strategy": "fine_tuning", "checkpoint": "best_val"}
    raise SystemExit(f"unknown row {row!r}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", required=True)
    ap.add_argument("--rows", nargs="+", default=["mcc_top1"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--store", default=os.environ.get("TL_BENCH_STORE", "/tmp/tl_bench_partial"))
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    os.environ["TL_HOME"] = a.store
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    path = OUT / "partial.json"
    results = json.loads(path.read_text()) if path.exists() else []
    done = {(r["pair"], r["row"], r["seed"]) for r in results}
    store = RunStore(a.store)
    for seed in a.seeds:
        for pair in a.pairs:
            for row in a.rows:
                if a.report_only or (pair, row, seed) in done:
                    continue
                cfg = RunConfig.from_dict(config_for(pair, row, seed))
                t0, c0 = time.time(), time.process_time()
                events = []
                rec = run_experiment(cfg, store, callbacks=[events.append])
                m = store.metrics(rec.run_id)
                tt = m.get("target_test", {})
                phases = [e for e in events if e.get("type") == "phase"]
                t_train = next((e["t"] for e in phases if e.get("phase") == "training"), None)
                results.append({"pair": pair, "row": row, "seed": seed, "run_id": rec.run_id,
                                "target_acc": tt.get("accuracy"), "target_ci": tt.get("accuracy_ci"),
                                "source_val_acc": m.get("source_val", {}).get("accuracy"),
                                "trainable_params": m.get("trainable_params"),
                                "seconds": round(time.time() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1),
                                "seconds_before_training": t_train, "seconds_train": m.get("seconds_train"),
                                "prefix_cache_hit": any("(from the cache)" in (e.get("detail") or "") for e in phases),
                                "load1": round(os.getloadavg()[0], 1),
                                "settings": {k: v for k, v in cfg.to_dict().items() if k not in ("source", "target")}})
                path.write_text(json.dumps(results, indent=1))
                print(json.dumps(results[-1] | {"settings": None}), flush=True)
                write_report(results)
    write_report(results)


def _cell(accs: list) -> str:
    if not accs:
        return ""
    sd = statistics.stdev(accs) * 100 if len(accs) > 1 else 0.0
    return f"{statistics.mean(accs) * 100:.1f} +- {sd:.1f} (n={len(accs)})"


def write_report(results: list) -> None:
    import torch

    base = json.loads((OUT / "defaults.json").read_text()) if (OUT / "defaults.json").exists() else []
    pairs = [p for p in PUBLISHED if any(r["pair"] == p for r in results)]
    rows = sorted({r["row"] for r in results})
    lines = ["# Cached partial fine-tuning: target accuracy (%), mean +- std over seeds", "",
             f"Machine: {cpu_name()}, {os.cpu_count()} CPU cores, no GPU, torch {torch.__version__}, "
             f"{time.strftime('%Y-%m-%d')}, shared with 2-4 other workers (load average per run in `partial.json`, "
             "`load1`). Target unlabeled. Written by `bench/partial.py` from `partial.json`; the frozen rows are "
             "`defaults.json` (same pairs, splits and seeds).", "",
             "| row | " + " | ".join(p.replace("_", " -> ") for p in pairs) + " |", "|---|" + "---:|" * len(pairs)]
    for row in ("source_only", "recommended"):
        lines.append(f"| frozen {row} (defaults.md) | " + " | ".join(
            _cell([r["target_acc"] for r in base if r["pair"] == p and r["row"] == row and r["target_acc"] is not None])
            for p in pairs) + " |")
    seeds = sorted({r["seed"] for r in results})
    for row in ("source_only", "recommended"):  # the frozen rows on exactly the seeds (splits) run here
        lines.append(f"| frozen {row}, seeds {seeds} | " + " | ".join(
            _cell([r["target_acc"] for r in base if r["pair"] == p and r["row"] == row and r["seed"] in seeds
                   and r["target_acc"] is not None]) for p in pairs) + " |")
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(
            _cell([r["target_acc"] for r in results if r["pair"] == p and r["row"] == row]) for p in pairs) + " |")
    lines += ["", "| pair | row | seed | target acc | trainable params | wall s (before training / training) | "
              "CPU s | prefix cache | load |", "|---|---|---:|---:|---:|---|---:|---|---:|"]
    for r in results:
        lines.append(f"| {r['pair'].replace('_', ' -> ')} | {r['row']} | {r['seed']} | {r['target_acc'] * 100:.1f} | "
                     f"{r['trainable_params']:,} | {r['seconds']:.0f} ({r['seconds_before_training'] or 0:.0f} / "
                     f"{r['seconds_train'] or 0:.0f}) | {r['cpu_seconds']:.0f} | "
                     f"{'hit' if r['prefix_cache_hit'] else 'computed'} | {r['load1']} |")
    s = SETTINGS
    lines += ["", "Settings: `top{k}` = `params.train_last_groups: k` (MiniLM: the last k transformer layers; "
              "EfficientNet-Lite0: the last k inverted-residual blocks, the last with conv_head), 256-wide "
              f"bottleneck, head lr {s['text']['lr']}, top layers at lr x {s['text']['factor']} (rows ending `_f{{x}}`: x); "
              f"texts "
              f"{s['text']['epochs']} epochs, batch 32, max length 128; images {s['image']['epochs']} epochs, "
              "batch 64, 224 px. mcc rows keep the last epoch (as the recommended default); source_only rows the "
              "best source-validation epoch (as defaults' source_only). 'prefix cache: hit' = the frozen layers' "
              "output came from the on-disk cache of an earlier run (seconds before training then exclude them)."]
    (OUT / "partial.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
