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

from typing import Callable

import numpy as np

from tlcore.config import RunConfig
from tlcore.errors import DataError
from tlcore.pipeline import run_experiment


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
