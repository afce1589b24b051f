"""Benchmark: strategies x domain pairs x seeds on the shared real data, target accuracy mean +- std.

    .venv/bin/python bench/transfer.py --strategies linear_probe fine_tuning scratch \
        --pairs mnist_usps books_kitchen --seeds 0 --max 1000 --out bench/results/baselines.md

Pairs come from ../shared/data (MNIST/USPS digits, Amazon books/kitchen reviews); the target is used
unlabeled (labeled_fraction 0) unless --labeled-fraction is given. Runs one at a time (2-core machines),
appending each result to the JSON file as it finishes, so a long run can be stopped and resumed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

PAIRS = {
    "mnist_usps": ("digits_mnist_usps/mnist.zip", "digits_mnist_usps/usps.zip", "image"),
    "usps_mnist": ("digits_mnist_usps/usps.zip", "digits_mnist_usps/mnist.zip", "image"),
    "books_kitchen": ("amazon_reviews/books.csv", "amazon_reviews/kitchen.csv", "text"),
    "kitchen_books": ("amazon_reviews/kitchen.csv", "amazon_reviews/books.csv", "text"),
}
BASE = {
    "image": {"backbone": "efficientnet_lite0", "image_size": 64, "batch_size": 64, "epochs": 3, "lr": 1e-3},
    "text": {"backbone": "minilm_l6", "max_length": 128, "batch_size": 32, "epochs": 3, "lr": 1e-3},
}
PER_STRATEGY = {
    "linear_probe": {"epochs": 30},
    "scratch": {"image": {"lr": 1e-3}, "text": {"lr": 1e-4}},
}


def config_for(pair: str, strategy: str, seed: int, max_samples: int, labeled_fraction: float, extra: dict,
               params: dict | None = None) -> dict:
    """One run's config. ``params`` are given to every strategy whose Params has those fields."""
    import dataclasses

    from tlcore.strategies.specs import get_spec

    src, tgt, modality = PAIRS[pair]
    cfg = {"source": {"path": str(DATA / src)}, "target": {"path": str(DATA / tgt),
                                                           "labeled_fraction": labeled_fraction},
           "strategy": strategy, "seed": seed, "max_samples_per_domain": max_samples, **BASE[modality]}
    over = PER_STRATEGY.get(strategy, {})
    cfg.update({k: v for k, v in over.items() if k not in ("image", "text")})
    cfg.update(over.get(modality, {}))
    cfg.update(extra)
    if strategy == "linear_probe":
        cfg["bottleneck"] = 0  # a linear probe stays linear
    fields = {f.name for f in dataclasses.fields(get_spec(strategy).Params)}
    mine = (params or {}).get(modality, {})
    cfg["params"] = {k: v for k, v in mine.items() if k in fields}
    return cfg


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strategies", nargs="+", required=True)
    ap.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--max", type=int, default=1000, help="samples per domain (seeded, stratified)")
    ap.add_argument("--labeled-fraction", type=float, default=0.0)
    ap.add_argument("--set", action="append", default=[], help="extra config key=JSON for every run")
    ap.add_argument("--image", action="append", default=[], help="config key=JSON for image pairs only")
    ap.add_argument("--text", action="append", default=[], help="config key=JSON for text pairs only")
    ap.add_argument("--params", default="{}", help='JSON {"image": {...}, "text": {...}}: strategy params, '
                                                   "given to every strategy that has those fields")
    ap.add_argument("--out", required=True)
    ap.add_argument("--report-only", action="store_true", help="only rewrite the table from the JSON results")
    ap.add_argument("--store", default="", help="run store folder to keep the runs (default: a temp folder)")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from tlcore.config import RunConfig
    from tlcore.errors import TLError
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    def kv(items):
        return {k: json.loads(v) for k, v in (s.split("=", 1) for s in items)}

    extra = kv(a.set)
    per_modality = {"image": kv(a.image), "text": kv(a.text)}
    params = json.loads(a.params)
    out = Path(a.out)
    results_path = out.with_suffix(".json")
    results = json.loads(results_path.read_text())["results"] if results_path.exists() else []
    done = {(r["pair"], r["strategy"], r["seed"]) for r in results}
    store = RunStore(a.store or tempfile.mkdtemp(prefix="tl_bench_"))
    for pair in [] if a.report_only else a.pairs:
        for strategy in a.strategies:
            for seed in a.seeds:
                if (pair, strategy, seed) in done:
                    continue
                cfg = config_for(pair, strategy, seed, a.max, a.labeled_fraction,
                                 {**extra, **per_modality[PAIRS[pair][2]]}, params)
                t0 = time.time()
                try:
                    rec = run_experiment(RunConfig.from_dict(cfg), store)
                    row = {"pair": pair, "strategy": strategy, "seed": seed, "run_id": rec.run_id,
                           "target_acc": rec.target_acc,
                           "source_acc": rec.source_acc, "seconds": round(time.time() - t0, 1)}
                except TLError as exc:
                    row = {"pair": pair, "strategy": strategy, "seed": seed, "error": str(exc)[:300],
                           "seconds": round(time.time() - t0, 1)}
                results.append(row)
                print(json.dumps(row), flush=True)
                results_path.write_text(json.dumps({"machine": machine(), "args": vars(a), "results": results},
                                                   indent=1))
    write_table(out, results, a)


def write_table(out: Path, results: list[dict], a) -> None:
    pairs = [p for p in PAIRS if any(r["pair"] == p for r in results)]
    strategies = list(dict.fromkeys(r["strategy"] for r in results))
    lines = ["# Target accuracy (%), mean +- std over seeds", "",
             f"Machine: {machine()}. Samples per domain: {a.max} (seeded, stratified); target test = half of the "
             f"target sample; labeled_fraction {a.labeled_fraction}. Seeds: {a.seeds}.", "",
             "| strategy | " + " | ".join(p.replace("_", " -> ") for p in pairs) + " | mean time (s) |",
             "|---|" + "---:|" * (len(pairs) + 1)]
    for s in strategies:
        cells, secs = [], []
        for p in pairs:
            rows = [r for r in results if r["pair"] == p and r["strategy"] == s]
            accs = [100 * r["target_acc"] for r in rows if r.get("target_acc") is not None]
            secs += [r["seconds"] for r in rows]
            if not accs:
                cells.append("n/a" if not rows else "error")
            elif len(accs) == 1:
                cells.append(f"{accs[0]:.1f}")
            else:
                cells.append(f"{statistics.mean(accs):.1f} +- {statistics.stdev(accs):.1f}")
        lines.append(f"| {s} | " + " | ".join(cells) + f" | {statistics.mean(secs):.0f} |" if secs else "")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def wrapper_args(strategies: list[str], pairs: list[str], **extra) -> argparse.Namespace:
    """The options every wrapper bench shares (seeds, strategies, pairs, store, report-only) plus ``extra``
    (name -> default)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", nargs="+", default=["0", "1", "2"])
    ap.add_argument("--strategies", nargs="+", default=strategies)
    ap.add_argument("--pairs", nargs="+", default=pairs)
    ap.add_argument("--store", default="", help="keep the runs in this run store (e.g. for paired tests)")
    ap.add_argument("--report-only", action="store_true")
    for name, default in extra.items():
        ap.add_argument(f"--{name}", default=default)
    return ap.parse_args()


def run_bench(args: list[str], store: str = "", report_only: bool = False) -> None:
    """Run this script in a child process with ``args`` (the wrappers' entry point)."""
    import subprocess

    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    cmd += ["--store", store] if store else []
    cmd += ["--report-only"] if report_only else []
    subprocess.run(cmd, check=True)


def append_notes(out: Path, lines: list[str], findings: Path) -> None:
    """Append settings ``lines`` and the hand-written ``findings`` file (when present) to the table ``out``."""
    if findings.exists():
        lines = [*lines, "", findings.read_text().strip()]
    with out.open("a") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
