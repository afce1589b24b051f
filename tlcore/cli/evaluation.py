"""Evaluation commands: ``compare`` (metrics with intervals and paired tests), ``report`` (HTML), ``sweep``
(several strategies and seeds on a pair, plus a classical baseline), ``rerun`` and ``cv``."""
from __future__ import annotations

import json
import sys

from tlcore.cli.common import base_config, print_progress, slim
from tlcore.config import DEMO_CONFIGS, RunConfig
from tlcore.recommend import resolve


def register(sub, commands: dict) -> None:
    c = sub.add_parser("compare", help="metrics with intervals and paired tests of runs (JSON, last line)")
    c.add_argument("run_ids", nargs="+")
    c.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    c.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    rp = sub.add_parser("report", help="write a self-contained HTML report comparing runs")
    rp.add_argument("run_ids", nargs="+")
    rp.add_argument("--out", required=True, help="output file (.html), outside the data root")
    rp.add_argument("--force", action="store_true", help="replace --out when it exists (never inside the data root)")
    rp.add_argument("--title", default="TL Studio comparison report")
    sw = sub.add_parser("sweep", help="run several strategies (and seeds) on a pair, plus a classical baseline")
    sw.add_argument("config", nargs="?", help="base config file (YAML or JSON)")
    sw.add_argument("--demo", choices=sorted(DEMO_CONFIGS), help="use a built-in demo config as the base")
    sw.add_argument("--strategies", nargs="+", required=True, help="strategy keys")
    sw.add_argument("--seeds", nargs="+", type=int, default=None, help="seeds (default: the config's seed)")
    sw.add_argument("--reverse", action="store_true", help="also sweep the reversed pair (B -> A)")
    sw.add_argument("--no-classical", action="store_true", help="leave out the classical baseline")
    sw.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    sw.add_argument("--quiet", action="store_true")
    rr = sub.add_parser("rerun", help="run a run's config again (same seed, data and split)")
    rr.add_argument("run_id")
    rr.add_argument("--quiet", action="store_true")
    cv = sub.add_parser("cv", help="k-fold / leave-one-out logistic regression on a run's target features")
    cv.add_argument("run_id")
    cv.add_argument("--k", default="5", help="number of folds, or 'loo'")
    cv.add_argument("--seed", type=int, default=0)
    commands.update({"compare": cmd_compare, "report": cmd_report, "sweep": cmd_sweep, "rerun": cmd_rerun,
                     "cv": cmd_cv})


def cmd_compare(a) -> int:
    from tlcore.evaluation.compare import compare_runs
    from tlcore.runs.store import RunStore

    print(json.dumps(compare_runs(RunStore(), a.run_ids, n_resamples=a.resamples, seed=a.seed)))
    return 0


def cmd_report(a) -> int:
    from pathlib import Path

    from tlcore.reports.html import build_report
    from tlcore.runs.store import RunStore

    from tlcore.runs.outputs import check_output

    out = check_output(a.out, force=a.force)
    out.parent.mkdir(parents=True, exist_ok=True)
    html = build_report(RunStore(), a.run_ids, title=a.title)
    out = check_output(out, force=a.force)  # again: the report takes a while and the path may have appeared
    out.write_text(html, encoding="utf-8")
    print(json.dumps({"report": str(out.resolve()), "runs": a.run_ids, "bytes": out.stat().st_size}))
    return 0


def cmd_sweep(a) -> int:
    from tlcore.runs.store import RunStore
    from tlcore.sweeps import plan_sweep, reversed_pair, run_sweep

    raw = base_config(a)
    if raw is None:
        return 2
    base = resolve(RunConfig.from_dict(raw)).to_dict()  # "auto": the strategies compared in the default's regime
    pairs = [(base["source"], base["target"])]
    if a.reverse:
        pairs.append(reversed_pair(base["source"], base["target"]))
    plan = plan_sweep(pairs, a.strategies, a.seeds, base, classical=not a.no_classical)
    sweep_id = plan[0]["name"].split(":", 1)[1]

    def done(config, row):
        if not a.quiet:
            print(f"[sweep {sweep_id}] {row['strategy']} seed {row['seed']}: {row['status']} {row['run_id'] or ''}"
                  f" {row['error'] or ''}", file=sys.stderr)

    store = RunStore()
    rows = run_sweep(plan, store, callbacks=[] if a.quiet else [print_progress], on_run=done)
    from tlcore.evaluation.selection import sweep_picks  # per pair: the default validator's pick and its regret

    picks = sweep_picks(store.list(), store.metrics, sweep_id)
    print(json.dumps({"sweep_id": sweep_id, "runs": rows, "picks": picks}))
    return 0 if all(r["status"] == "completed" for r in rows) else 1


def cmd_rerun(a) -> int:
    from tlcore.producers import produce_run
    from tlcore.reports.repro import rerun_config
    from tlcore.runs.store import RunStore

    store = RunStore()
    config = rerun_config(store, a.run_id)
    rec = produce_run(config, store, callbacks=[] if a.quiet else [print_progress])
    metrics = store.metrics(rec.run_id)
    print(json.dumps({"run_id": rec.run_id, "rerun_of": a.run_id, "status": rec.status,
                      "metrics": {k: slim(metrics.get(k) or {}) for k in ("target_test", "source_val")}}))
    return 0


def cmd_cv(a) -> int:
    from tlcore.evaluation.crossval import cross_validate_run
    from tlcore.runs.store import RunStore

    k = "loo" if str(a.k).lower() == "loo" else int(a.k)
    print(json.dumps(cross_validate_run(RunStore(), a.run_id, k, a.seed)))
    return 0
