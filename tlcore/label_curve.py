"""What labels buy: target accuracy against the number of labelled target samples, active vs random.

``python -m tlcore label-curve CONFIG --budgets 10,20,50 --methods random,badge --seeds 0,1,2``. For each seed a
base run (no target labels) is trained from the config; then, per method, labels are added in rounds up to each
budget: the method queries the training pool of the latest run of its chain (:func:`tlcore.active.pool.query_run`;
``random`` draws from the base run's pool), the target's own labels answer as the oracle, the answers become a
label set extending the previous round's (:mod:`tlcore.data.label_sets`), and a run is trained with it. Each round
is an ordinary run through the one pipeline, so every point is a run on Compare. Active learning in rounds follows
Settles, "Active Learning Literature Survey", 2009 (pool-based sampling); the curve is the usual learning curve.

A strategy that needs target labels (``multitask``) cannot train the base run: that one uses the recommended
default for an unlabelled target (``auto``) with the same settings; each row names the strategy that ran.

Rows: ``{"method", "seed", "labels", "accuracy", "accuracy_ci", "run_id", "label_set", "strategy"}``; the summary gives per
method and budget the mean over seeds with a 95 % t interval across seeds (one seed: the run's bootstrap interval).
"""
from __future__ import annotations

import json
from typing import Callable

import numpy as np

from tlcore.config import RunConfig
from tlcore.errors import ConfigError, DataError

# the ``label_curve`` job kind (named in :data:`tlcore.jobs.tasks.TASKS`; a normal slot: it trains runs): its
# result, ``$TL_HOME/outputs/<job_id>/result.json``, is what the CLI prints plus the curve's ``run_id``, ``pair``,
# ``budgets``, ``methods`` and ``seeds``; Compare's "Label curve" tab lists and draws these. Torch-free to import.
RESULT_FILE = "result.json"
MAX_BUDGET, MAX_POINTS, MAX_SEEDS = 1000, 8, 5


def _accuracy(store, run_id: str) -> tuple[float, list]:
    m = store.metrics(run_id).get("target_test") or {}
    if "accuracy" not in m:
        raise DataError(f"run {run_id!r}: the target test split has no labels, so no accuracy to plot")
    return float(m["accuracy"]), list(m.get("accuracy_ci") or [])


def _without_labels(cfg: RunConfig) -> RunConfig:
    """The base run's config: ``cfg`` itself, or, when its strategy cannot run without target labels (multitask,
    TrAdaBoost), the recommended default for an unlabelled target (``strategy: auto``) with the same settings."""
    from tlcore.strategies.specs import get_spec

    if cfg.is_auto or not get_spec(cfg.strategy).requires.target_labels:
        return cfg
    return RunConfig.from_dict({**cfg.to_dict(), "strategy": "auto", "params": {}})


def label_curve(cfg: RunConfig, store, budgets: list[int], methods: list[str], seeds: list[int],
                progress: Callable[[str], None] = lambda s: None) -> dict:
    """Train the curve's runs (see the module docstring). Returns ``{"rows", "summary"}``."""
    from tlcore.active.pool import load_pool, query_run
    from tlcore.data.label_sets import LabelSets
    from tlcore.pipeline import run_experiment

    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise DataError("budgets: give positive numbers of labels, e.g. 10,20,50")
    sets, rows = LabelSets(store.root), []
    for seed in seeds:
        base_cfg = _without_labels(cfg.replace(seed=seed, target={**cfg.target.to_dict(), "label_set": None}))
        base = run_experiment(base_cfg, store).run_id
        acc, ci = _accuracy(store, base)
        progress(f"seed {seed}: no target labels: accuracy {acc:.3f} ({base})")
        pool = load_pool(store, base)  # the oracle's answers and the random order come from the base pool
        if any(not t for t in pool.truth):
            raise DataError("label-curve: the target has no labels of its own to answer as the oracle")
        truth = dict(zip(pool.ids, pool.truth))
        for method in methods:
            rows.append({"method": method, "seed": seed, "labels": 0, "accuracy": acc, "accuracy_ci": ci,
                         "run_id": base, "label_set": None, "strategy": store.get(base).config.get("strategy")})
            latest, label_set, have = base, None, 0
            order = query_run(store, base, "random", budgets[-1], seed=seed, pool=pool)["samples"]
            for budget in budgets:
                if budget > len(pool.ids):
                    break
                if method == "random":  # one seeded order of the base pool, taken in growing prefixes
                    asked = order[have:budget]
                else:  # the latest model of this chain picks from what is still unlabelled
                    asked = query_run(store, latest, method, budget - have, seed=seed)["samples"]
                ls = sets.add(pool.target_spec, [(s["id"], truth[s["id"]]) for s in asked],
                              base=label_set)
                label_set, have = ls["id"], budget
                run_cfg = cfg.replace(seed=seed, target={**cfg.target.to_dict(), "label_set": label_set})
                latest = run_experiment(run_cfg, store).run_id
                acc_b, ci_b = _accuracy(store, latest)
                progress(f"seed {seed}: {method} {budget} labels: accuracy {acc_b:.3f} ({latest})")
                rows.append({"method": method, "seed": seed, "labels": budget, "accuracy": acc_b,
                             "accuracy_ci": ci_b, "run_id": latest, "label_set": label_set,
                             "strategy": store.get(latest).config.get("strategy")})
    return {"rows": rows, "summary": summarize(rows)}


def summarize(rows: list[dict]) -> list[dict]:
    """Mean accuracy per (method, labels) over seeds, with a 95 % t interval across seeds (one seed: the run's own
    bootstrap interval)."""
    from scipy import stats

    out = []
    for key in sorted({(r["method"], r["labels"]) for r in rows}):
        group = [r for r in rows if (r["method"], r["labels"]) == key]
        acc = np.array([r["accuracy"] for r in group])
        if len(acc) > 1:
            half = float(stats.t.ppf(0.975, len(acc) - 1) * acc.std(ddof=1) / np.sqrt(len(acc)))
            ci = [float(acc.mean() - half), float(acc.mean() + half)]
        else:
            ci = group[0]["accuracy_ci"]
        out.append({"method": key[0], "labels": key[1], "accuracy": float(acc.mean()), "accuracy_ci": ci,
                    "seeds": len(acc)})
    return out


def _int_list(config: dict, name: str, default: list[int], low: int, high: int, most: int) -> list[int]:
    values = config.get(name, default)
    if (not isinstance(values, list) or not values or len(values) > most
            or any(not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high for v in values)):
        raise ConfigError(f"label_curve: {name} must be 1 to {most} whole numbers in [{low}, {high}], got {values!r}")
    return sorted(set(values))


def check_label_curve(config: dict, store) -> tuple[dict, str]:
    """``{"run_id", "budgets", "methods", "seeds"}`` normalised, and the job's label. The curve trains ``run_id``'s
    config (its ``target.label_set`` dropped) for its pair; the target's own labels answer."""
    from tlcore.active.query import METHODS

    run_id = config.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ConfigError("label_curve: run_id is required (the run whose config and pair the curve trains)")
    rec = store.get(run_id)
    RunConfig.from_dict({**rec.config, "target": {**rec.config["target"], "label_set": None}})
    budgets = _int_list(config, "budgets", [10, 20, 50], 1, MAX_BUDGET, MAX_POINTS)
    seeds = _int_list(config, "seeds", [0], 0, 2**31 - 1, MAX_SEEDS)
    methods = config.get("methods", ["random", "badge"])
    if not isinstance(methods, list) or not methods or any(m not in METHODS for m in methods):
        raise ConfigError(f"label_curve: methods must be a non-empty list of {list(METHODS)}, got {methods!r}")
    methods = list(dict.fromkeys(methods))
    return ({"run_id": run_id, "budgets": budgets, "methods": methods, "seeds": seeds},
            f"label curve · {run_id} · {','.join(methods)} · {','.join(map(str, budgets))}")


def run_label_curve(queue, cfg: dict) -> None:
    """Train the curve's runs (owned by the job's owner) and write the result into the job's folder."""
    from tlcore.job_context import current_job, job_folder, report_progress
    from tlcore.runs.files import private_dir, write_atomic

    job_id = current_job()
    if not job_id:
        raise DataError("the label_curve job kind runs inside a job (TL_JOB_ID is not set)")
    folder = private_dir(job_folder(queue.store.root, job_id))
    rec = queue.store.get(cfg["run_id"])
    run_cfg = RunConfig.from_dict({**rec.config, "target": {**rec.config["target"], "label_set": None}})
    total, done = len(cfg["seeds"]) * (1 + len(cfg["methods"]) * len(cfg["budgets"])), [0]

    def progress(line: str) -> None:
        print(line, flush=True)
        done[0] += 1
        report_progress(min(0.99, done[0] / total), line)

    report_progress(0.0, f"{total} runs to train")
    out = label_curve(run_cfg, queue.store, cfg["budgets"], cfg["methods"], cfg["seeds"], progress=progress)
    out |= {"run_id": cfg["run_id"], "pair": f"{rec.source} → {rec.target}", "budgets": cfg["budgets"],
            "methods": cfg["methods"], "seeds": cfg["seeds"]}
    write_atomic(folder / RESULT_FILE, json.dumps(out).encode("utf-8"))
    report_progress(1.0, f"label curve: {len(out['rows'])} points")


def read_curve(root, job_id: str) -> dict | None:
    """A finished label_curve job's result, None before that."""
    from tlcore.job_context import job_folder

    try:
        return json.loads((job_folder(root, job_id) / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
