"""Validator benchmark (issue 13): how well does each unsupervised validator pick the best run?

    nice -n 10 .venv/bin/python bench/validators.py [--pairs ...] [--seeds 0 1] [--max 500] [--report-only]

On MNIST <-> USPS, books <-> kitchen and four Office-Caltech-10 pairs (../shared/data), every strategy below
runs in the frozen-feature regime (deep strategies: frozen pretrained backbone + trained 256-wide bottleneck
and head; skada strategies: classical DA on the same cached features), for each seed. Every run carries its
validator scores (metrics.target_unsupervised, computed from its target-train outputs, no target label).
Per pair and validator: Spearman and Kendall rank correlation between score and target-test accuracy, the
accuracy of the validator's pick, and its regret (best accuracy minus the pick's). Writes
bench/results/validators.json (raw rows, resumable) and bench/results/validators.md.
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
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT.parent / "shared" / "data"

from transfer import PAIRS as BASE_PAIRS  # noqa: E402

PAIRS = {  # the four pairs of bench/transfer.py plus four Office-Caltech-10 pairs
    **BASE_PAIRS,
    "amazon_webcam": ("office_caltech10/amazon.zip", "office_caltech10/webcam.zip", "image"),
    "caltech10_amazon": ("office_caltech10/caltech10.zip", "office_caltech10/amazon.zip", "image"),
    "webcam_caltech10": ("office_caltech10/webcam.zip", "office_caltech10/caltech10.zip", "image"),
    "dslr_amazon": ("office_caltech10/dslr.zip", "office_caltech10/amazon.zip", "image"),
}
IMAGE_SIZE = {"mnist_usps": 64, "usps_mnist": 64}  # digits: 64 px; Office-Caltech: 128 px
DEEP = ["linear_probe", "fine_tuning", "dann", "coral", "mmd", "mcc", "self_training"]
SKADA = ["skada_coral", "skada_subspace_alignment", "skada_tca", "skada_ot_mapping", "skada_kmm", "skada_jdot"]
# Musgrave, Belongie & Lim 2022 (arXiv:2208.07360): what the abstract and paper state, no numbers copied
PUBLISHED = [
    "Scale: 8 validators (3 new: BNM, ClassAMI, DEVN; 5 existing) ranked by weighted Spearman correlation with "
    "target accuracy over 1,000,000 checkpoints of UDA algorithms on 31 tasks.",
    "Two of the three new validators reach the state of the art in various settings.",
    "In many cases the state of the art is obtained by a simple baseline method: elaborate validators do not "
    "reliably beat simple ones.",
    "Which validator is best varies with the task and the algorithm: none is reliable everywhere.",
]


def config_for(pair: str, strategy: str, seed: int, max_samples: int) -> dict:
    src, tgt, modality = PAIRS[pair]
    cfg = {"source": {"path": str(DATA / src)}, "target": {"path": str(DATA / tgt)}, "strategy": strategy,
           "seed": seed, "max_samples_per_domain": max_samples, "epochs": 10, "lr": 1e-3,
           "early_stopping_patience": 5}
    if modality == "image":
        cfg.update(backbone="efficientnet_lite0", image_size=IMAGE_SIZE.get(pair, 128), batch_size=64)
    else:
        cfg.update(backbone="minilm_l6", max_length=128, batch_size=32)
    if strategy in DEEP and strategy != "linear_probe":
        cfg.update(bottleneck=256, params={"freeze_backbone": True})
    if strategy == "linear_probe":
        cfg.update(epochs=30)
    if strategy in SKADA:
        cfg.update(epochs=1)  # the head is fitted once; epochs only report
    return cfg


def machine() -> str:
    from transfer import machine as m

    return m()


def run(a) -> list[dict]:
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    out = ROOT / "bench" / "results" / "validators.json"
    results = json.loads(out.read_text())["results"] if out.exists() else []
    done = {(r["pair"], r["strategy"], r["seed"]) for r in results}
    store = RunStore(a.store or tempfile.mkdtemp(prefix="tl_bench_"))
    for pair in a.pairs:
        for seed in a.seeds:
            for strategy in a.strategies:
                if (pair, strategy, seed) in done:
                    continue
                t0, c0 = time.time(), time.process_time()
                phases = {}

                def on_event(ev, phases=phases):  # CPU seconds at each phase change: robust to a busy machine
                    if ev.get("type") == "phase":
                        phases.setdefault(ev["phase"], time.process_time())

                try:
                    rec = run_experiment(RunConfig.from_dict(config_for(pair, strategy, seed, a.max)), store,
                                         callbacks=[on_event])
                    m = store.metrics(rec.run_id)
                    tu = m.get("target_unsupervised") or {}
                    train_cpu = (phases["evaluating"] - phases["training"]
                                 if {"training", "evaluating"} <= set(phases) else None)
                    row = {"pair": pair, "strategy": strategy, "seed": seed, "run_id": rec.run_id,
                           "target_acc": rec.target_acc, "source_acc": rec.source_acc,
                           "seconds": round(time.time() - t0, 2), "cpu_seconds": round(time.process_time() - c0, 2),
                           "train_cpu_seconds": None if train_cpu is None else round(train_cpu, 3),
                           "seconds_train": m.get("seconds_train"), "validator_seconds": tu.get("seconds"),
                           "validator_cpu_seconds": tu.get("cpu_seconds"), "scores": tu.get("scores") or {}}
                except Exception as exc:  # recorded, and the benchmark goes on
                    row = {"pair": pair, "strategy": strategy, "seed": seed,
                           "error": f"{type(exc).__name__}: {exc}"[:300],
                           "seconds": round(time.time() - t0, 2)}
                results.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "scores"}), flush=True)
                out.write_text(json.dumps({"machine": machine(), "max_samples_per_domain": a.max,
                                           "results": results}, indent=1))
    return results


def report(results: list[dict], max_samples: int) -> None:
    from tlcore.evaluation.selection import validator_report
    from tlcore.evaluation.validators import VALIDATORS

    ok = [r for r in results if r.get("target_acc") is not None]
    pairs = [p for p in PAIRS if any(r["pair"] == p for r in ok)]
    names = list(VALIDATORS)
    per = {}  # (pair, validator) -> report row
    for p in pairs:
        cands = [{"run_id": r["run_id"], "label": f"{r['strategy']} s{r['seed']}", "scores": r["scores"],
                  "accuracy": r["target_acc"]} for r in ok if r["pair"] == p]
        for row in validator_report(cands, names):
            per[(p, row["validator"])] = row
    summary = []
    for v in names:
        rows = [per[(p, v)] for p in pairs if per[(p, v)]["regret"] is not None]
        within2 = sum(r["regret"] <= 0.02 + 1e-9 for r in rows)
        above_median = sum(r["pick_accuracy"] >= r["median_accuracy"] - 1e-9 for r in rows)
        sp = [r["spearman"] for r in rows if r["spearman"] is not None]
        kt = [r["kendall"] for r in rows if r["kendall"] is not None]
        summary.append({"validator": v, "pairs": len(rows), "within_2_points": within2,
                        "not_below_median": above_median,
                        "mean_regret": statistics.mean(r["regret"] for r in rows) if rows else None,
                        "max_regret": max(r["regret"] for r in rows) if rows else None,
                        "mean_spearman": statistics.mean(sp) if sp else None,
                        "mean_kendall": statistics.mean(kt) if kt else None})
    ranked = sorted((s for s in summary if s["pairs"]),
                    key=lambda s: (-s["within_2_points"], -s["not_below_median"], s["mean_regret"]))
    best = ranked[0]["validator"] if ranked else None

    def f(x, pct=False):
        return "n/a" if x is None else (f"{100 * x:.1f}" if pct else f"{x:+.2f}")

    lines = ["# Unsupervised validators: rank correlation with target accuracy and regret", "",
             f"Machine: {machine()}. Samples per domain: {max_samples} (seeded, stratified); target test = half of "
             "the target sample, never seen in training; validators read the unlabeled target-train half only. "
             f"Runs: {len(ok)} completed ({len(results) - len(ok)} failed) over {len(pairs)} pairs.", "",
             f"**Best validator here: `{best}`** (most pairs with the pick within 2 points of the best run, then "
             "fewest picks below the median run, then mean regret). It is the default of `tlcore select` and of "
             "the Compare page.", "",
             "## Summary over pairs", "",
             "| validator | pairs | pick within 2 pts of best | pick >= median run | mean regret (pts) | max regret "
             "(pts) | mean Spearman | mean Kendall |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        lines.append(f"| {s['validator']} | {s['pairs']} | {s['within_2_points']} | {s['not_below_median']} | "
                     f"{f(s['mean_regret'], True)} | {f(s['max_regret'], True)} | {f(s['mean_spearman'])} | "
                     f"{f(s['mean_kendall'])} |")
    lines += ["", "## Per pair: regret in points (Spearman / Kendall)", "",
              "| pair | runs | best acc | median acc | " + " | ".join(names) + " |",
              "|---|---:|---:|---:|" + "---:|" * len(names)]
    for p in pairs:
        r0 = per[(p, names[0])]
        cells = [f"{f(per[(p, v)]['regret'], True)} ({f(per[(p, v)]['spearman'])} / {f(per[(p, v)]['kendall'])})"
                 for v in names]
        lines.append(f"| {p.replace('_', ' -> ')} | {r0['n']} | {f(r0['best_accuracy'], True)} | "
                     f"{f(r0['median_accuracy'], True)} | " + " | ".join(cells) + " |")
    if best:
        lines += ["", f"## What `{best}` picks", "", "| pair | pick | pick acc | best run | best acc |",
                  "|---|---|---:|---|---:|"]
        for p in pairs:
            rows = [r for r in ok if r["pair"] == p]
            top = max(rows, key=lambda r: r["target_acc"])
            pr = per[(p, best)]
            pick = next(r for r in rows if r["run_id"] == pr["pick"])
            lines.append(f"| {p.replace('_', ' -> ')} | {pick['strategy']} s{pick['seed']} | "
                         f"{f(pick['target_acc'], True)} | {top['strategy']} s{top['seed']} | "
                         f"{f(top['target_acc'], True)} |")
    lines += ["", "## Cost", ""]
    vs = [(r["validator_cpu_seconds"], r["cpu_seconds"]) for r in ok if r.get("validator_cpu_seconds") is not None]
    if vs:
        frac = [a / b for a, b in vs if b]
        mean_v = statistics.mean(a for a, _ in vs)
        lines.append(f"Validators (all {len(names)} together, one BLAS thread) take {mean_v:.3f} CPU s per run "
                     f"on average (max {max(a for a, _ in vs):.3f} s): "
                     f"{100 * statistics.mean(frac):.1f} % of a run's CPU time on average, {100 * max(frac):.1f} % "
                     "at most. These runs are the cheapest there are (frozen, cached features); the share is smaller "
                     "for every fine-tuned run. CPU time, not wall time: the benchmark machine was shared.")
    lines += ["", "Training-phase CPU seconds (skada: the pipeline fit plus the loop's report-only epoch; deep: the "
              "training loop on cached features) and target accuracy (%), per strategy and pair:", "",
              "| strategy | " + " | ".join(p.replace("_", " -> ") for p in pairs) + " |",
              "|---|" + "---:|" * len(pairs)]
    strategies = list(dict.fromkeys(r["strategy"] for r in ok))

    def cell(p, s):
        rows = [r for r in ok if r["pair"] == p and r["strategy"] == s]
        cpu = [r["train_cpu_seconds"] for r in rows if r.get("train_cpu_seconds") is not None]
        acc = [r["target_acc"] for r in rows]
        return (statistics.mean(cpu) if cpu else None), (statistics.mean(acc) if acc else None)

    for s in strategies:
        cells = []
        for p in pairs:
            cpu, acc = cell(p, s)
            cells.append("n/a" if acc is None else f"{'?' if cpu is None else f'{cpu:.2f}'} s / {100 * acc:.1f}")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines += ["", "Skada vs deep (frozen regime), per pair: the slowest skada fit against the fastest deep training, "
              "and the best of each family:", "",
              "| pair | slowest skada (CPU s) | fastest deep (CPU s) | skada slower than the fastest deep | "
              "best skada | best deep |", "|---|---|---|---|---|---|"]
    for p in pairs:
        sk = [(s, *cell(p, s)) for s in strategies if s.startswith("skada_") and cell(p, s)[0] is not None]
        dp = [(s, *cell(p, s)) for s in strategies if not s.startswith("skada_") and cell(p, s)[0] is not None]
        if not sk or not dp:
            continue
        slow, fast = max(sk, key=lambda t: t[1]), min(dp, key=lambda t: t[1])
        slower = [s for s, c, _ in sk if c > fast[1]]
        bs, bd = max(sk, key=lambda t: t[2]), max(dp, key=lambda t: t[2])
        lines.append(f"| {p.replace('_', ' -> ')} | {slow[0]} {slow[1]:.2f} | {fast[0]} {fast[1]:.2f} | "
                     f"{', '.join(slower) or 'none'} | {bs[0]} {100 * bs[2]:.1f} | {bd[0]} {100 * bd[2]:.1f} |")
    lines += ["", "## Published conclusions (Musgrave et al. 2022) beside ours", ""]
    lines += [f"- {t}" for t in PUBLISHED]
    findings = ROOT / "bench" / "results" / "validators_findings.md"
    if findings.exists():
        lines += ["", findings.read_text().strip()]
    (ROOT / "bench" / "results" / "validators.md").write_text("\n".join(lines) + "\n")
    data = json.loads((ROOT / "bench" / "results" / "validators.json").read_text())
    data["summary"], data["best_validator"] = summary, best
    data["per_pair"] = [dict(per[k], pair=k[0]) for k in per]
    (ROOT / "bench" / "results" / "validators.json").write_text(json.dumps(data, indent=1))
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    ap.add_argument("--strategies", nargs="+", default=DEEP + SKADA)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--max", type=int, default=500)
    ap.add_argument("--store", default="")
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = [] if a.report_only else run(a)
    if a.report_only:
        results = json.loads((ROOT / "bench" / "results" / "validators.json").read_text())["results"]
    report(results, a.max)


if __name__ == "__main__":
    main()
