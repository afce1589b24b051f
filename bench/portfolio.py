"""Issue 25: the candidates of the ``auto`` portfolio (tlcore/recommend.py ``PORTFOLIO``) run one by one on shared
pairs (and pairs derived from the shared data by bench/derived_pairs.py), 1,000 samples per domain, unlabeled
target; then every label-free selection rule of :mod:`tlcore.portfolio` picks one candidate per pair and seed,
and its regret against the best candidate is reported (target labels are read only for that report).

    .venv/bin/python bench/portfolio.py --pairs mnist_usps usps_mnist mnist_mnistc amazon_webcam \
        amazon_sketchwebcam books_kitchen --seeds 0 1 2
    .venv/bin/python bench/portfolio.py --report-only

Writes ``bench/results/portfolio.json`` (resumable: one row per pair, seed and candidate) and ``portfolio.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "results"
DERIVED = Path(os.environ.get("TL_BENCH_DERIVED", "/tmp/tl_derived"))
DATA = ROOT.parent / "shared" / "data"
OFFICE = ("amazon", "webcam", "dslr", "caltech10")


def domain(name: str) -> dict:
    if name in ("mnist", "usps"):
        return {"path": str(DATA / "digits_mnist_usps" / f"{name}.zip")}
    if name in OFFICE:
        return {"path": str(DATA / "office_caltech10" / f"{name}.zip")}
    if name in ("books", "kitchen"):
        return {"path": str(DATA / "amazon_reviews" / f"{name}.csv"), "text_column": "text", "label_column": "label"}
    if name == "mnistc":
        return {"path": str(DERIVED / "mnistc.zip")}
    if name.startswith("sketch"):
        return {"path": str(DERIVED / f"sketch_{name[len('sketch'):]}.zip")}
    raise SystemExit(f"unknown domain {name!r}")


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores, no GPU"


def run_pairs(pairs, seeds, store_root: str, path: Path, per_domain: int) -> list[dict]:
    os.environ["TL_HOME"] = store_root
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.recommend import portfolio_candidates
    from tlcore.runs.store import RunStore

    rows = json.loads(path.read_text()) if path.exists() else []
    done = {(r["pair"], r["seed"], r["key"]) for r in rows}
    store = RunStore(store_root)
    for seed in seeds:
        for pair in pairs:
            src, tgt = pair.split("_")
            raw = {"source": domain(src), "target": domain(tgt), "seed": seed, "strategy": "auto",
                   "max_samples_per_domain": per_domain}
            for cand in portfolio_candidates(raw, gpu=False):
                if (pair, seed, cand["key"]) in done:
                    continue
                t0, c0 = time.time(), time.process_time()
                r = run_experiment(RunConfig.from_dict({**cand["config"], "name": f"portfolio {cand['key']}"}), store)
                tt = store.metrics(r.run_id).get("target_test") or {}
                rows.append({"pair": pair, "seed": seed, "key": cand["key"], "run_id": r.run_id,
                             "accuracy": tt.get("accuracy"), "wall_s": round(time.time() - t0, 1),
                             "cpu_s": round(time.process_time() - c0, 1)})
                path.write_text(json.dumps(rows, indent=1))
                print(rows[-1], flush=True)
    return rows


def evaluate_rules(rows: list[dict], store_root: str) -> dict:
    """Per pair and seed: every rule's pick and its regret (points) against the best candidate."""
    os.environ["TL_HOME"] = store_root
    from tlcore.portfolio import RULES, choose, load_candidate
    from tlcore.runs.store import RunStore

    store = RunStore(store_root)
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["pair"], r["seed"]), []).append(r)
    out = {}
    for (pair, seed), items in sorted(groups.items()):
        cands = [load_candidate(store, r["run_id"], r["key"]) for r in items]
        acc = {r["key"]: 100 * r["accuracy"] for r in items}
        best = max(acc.values())
        picks = {}
        for rule in RULES:
            pick = choose(cands, rule)["pick"]
            picks[rule] = {"pick": pick, "accuracy": acc[pick], "regret": round(best - acc[pick], 2)}
        out[f"{pair}|{seed}"] = {"pair": pair, "seed": seed, "accuracy": acc, "best": best, "picks": picks,
                                 "seconds": {r["key"]: r["wall_s"] for r in items}}
    return out


def report(rows: list[dict], evals: dict) -> str:
    from tlcore.portfolio import DEFAULT_RULE, RULES

    keys = list(dict.fromkeys(r["key"] for r in rows))
    pairs = list(dict.fromkeys(e["pair"] for e in evals.values()))

    def mean(v):
        return f"{statistics.mean(v):.1f}" + (f" ± {statistics.stdev(v):.1f}" if len(v) > 1 else "")

    lines = ["# The `auto` portfolio: candidates, the label-free pick and its regret (issue 25)", "",
             f"Machine: {machine()}; shared with other jobs (seconds inflated). 1,000 samples per domain "
             "(fewer where the domain is smaller), unlabeled target, target-test accuracy in % (mean ± sd over seeds). "
             "`mnistc` (MNIST-M recipe on caltech10 photo patches) and `sketch*` (edge drawings of an Office domain) "
             "are derived from the shared data by `bench/derived_pairs.py`. The pick uses no target label; the "
             f"default rule is `{DEFAULT_RULE}`.", "",
             "| pair | seeds | " + " | ".join(keys) + " | pick (default rule) | regret | s per default run |",
             "|---|---|" + "---|" * len(keys) + "---|---|---|"]
    for pair in pairs:
        es = [e for e in evals.values() if e["pair"] == pair]
        cells = [mean([e["accuracy"][k] for e in es if k in e["accuracy"]]) if any(k in e["accuracy"] for e in es)
                 else "-" for k in keys]
        pk = [e["picks"][DEFAULT_RULE] for e in es]
        secs = [sum(e["seconds"].values()) for e in es]
        lines.append(f"| {pair} | {len(es)} | " + " | ".join(cells) +
                     f" | {mean([p['accuracy'] for p in pk])} ({', '.join(sorted({p['pick'] for p in pk}))}) "
                     f"| {mean([p['regret'] for p in pk])} | {statistics.mean(secs):.0f} |")
    lines += ["", "## Regret of each rule (points below the best candidate; mean over pairs and seeds, max, "
              "share of picks within 2 points)", "", "| rule | mean regret | max | within 2 points |", "|---|---|---|---|"]
    for rule in RULES:
        reg = [e["picks"][rule]["regret"] for e in evals.values()]
        lines.append(f"| {rule}{' (default)' if rule == DEFAULT_RULE else ''} | {statistics.mean(reg):.2f} | "
                     f"{max(reg):.1f} | {sum(r <= 2 for r in reg)}/{len(reg)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", default=["mnist_usps", "usps_mnist", "mnist_mnistc", "amazon_webcam",
                                                   "amazon_sketchwebcam", "books_kitchen"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--per-domain", type=int, default=1000)
    ap.add_argument("--store", default=os.environ.get("TL_BENCH_STORE", "/tmp/tl_bench_portfolio"))
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    path = OUT / "portfolio.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    if not a.report_only:
        rows = run_pairs(a.pairs, a.seeds, a.store, path, a.per_domain)
    evals = evaluate_rules(rows, a.store)
    (OUT / "portfolio_rules.json").write_text(json.dumps(evals, indent=1))
    text = report(rows, evals)
    (OUT / "portfolio.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
