"""Sweeps: a chosen set of strategies (and seeds) on one or more domain pairs, same split per pair and seed.

Every run of a sweep carries ``name = "sweep:<id>"`` so the Compare page can group them. Each sweep also
includes the classical baseline (:mod:`tlcore.evaluation.baseline`) per pair and seed.

* :func:`plan_sweep` builds the config dicts (validated), nothing runs;
* :func:`run_sweep` runs them in this process, one after another (the CLI), each through its producer
  (:func:`tlcore.producers.produce_run`: a deep run or the classical baseline, one path);
* :func:`submit_sweep` queues every run as a job, the classical baseline too (the dashboard);
* :func:`sweep_table` turns a sweep's finished runs into the strategy x pair table with gains.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from tlcore.config import RunConfig
from tlcore.evaluation.baseline import STRATEGY as CLASSICAL
from tlcore.sweep_naming import BASELINES, PREFIX, new_sweep_id, sweep_of


def reversed_pair(source: dict, target: dict) -> tuple[dict, dict]:
    """B -> A from A -> B: the target's labelled fraction stays with the (new) target."""
    lf = target.get("labeled_fraction", 0.0)
    new_source = {k: v for k, v in target.items() if k != "labeled_fraction"}
    new_target = {**{k: v for k, v in source.items() if k != "labeled_fraction"}}
    if lf:
        new_target["labeled_fraction"] = lf
    return new_source, new_target


def plan_sweep(pairs: list[tuple[dict, dict]], strategies: list[str], seeds: list[int] | None,
               base_config: dict, sweep_id: str | None = None, classical: bool = True) -> list[dict]:
    """Config dicts for every pair x seed x strategy, plus the classical baseline per pair x seed.

    Args:
        pairs: ``(source_spec, target_spec)`` dicts, e.g. A -> B and B -> A.
        strategies: strategy keys (``"classical"`` may be listed; it is added once per pair and seed anyway).
        seeds: seeds (default ``[base_config["seed"]]`` or 0).
        base_config: the shared settings (backbone, epochs, sizes...).
        sweep_id: id recorded in each config's ``name`` as ``sweep:<id>`` (a new one by default).
        classical: include the classical baseline.
    """
    from tlcore.validation import validate

    sweep_id = sweep_id or new_sweep_id()
    seeds = list(seeds) if seeds else [int(base_config.get("seed", 0) or 0)]
    deep = [s for s in dict.fromkeys(strategies) if s != CLASSICAL]
    plan = []
    for source, target in pairs:
        for seed in seeds:
            for strategy in deep:
                cfg = RunConfig.from_dict({**base_config, "source": source, "target": target, "strategy": strategy,
                                           "params": _params_for(strategy, base_config), "seed": seed,
                                           "name": PREFIX + sweep_id})
                validate(cfg)
                plan.append(cfg.to_dict())
            if classical or CLASSICAL in strategies:
                plan.append(RunConfig.from_dict({**base_config, "source": source, "target": target,
                                                 "strategy": CLASSICAL, "backbone": CLASSICAL, "params": {},
                                                 "seed": seed, "name": PREFIX + sweep_id}).to_dict())
    return plan


def _params_for(strategy: str, base_config: dict) -> dict:
    """The base config's params for its own strategy; for the others, the fields they share with it (e.g.
    ``freeze_backbone``, ``trainable_groups``), so a sweep compares strategies in one regime."""
    from tlcore.strategies.specs import get_spec

    params = dict(base_config.get("params") or {})
    if strategy == base_config.get("strategy"):
        return params
    own = {f["name"] for f in get_spec(strategy).describe()["params"]}
    return {k: v for k, v in params.items() if k in own}


def strategy_batch(config: dict, strategies: list[str] | None = None) -> tuple[list[tuple[str, dict]], list[str]]:
    """One config per strategy for "Run all strategies": the same data, split and seed; each strategy gets the
    parameters it shares with ``config``'s (``_params_for``, as a sweep does). Returns ``([(name, config)],
    ["name (reason)"])``: the runnable configs and the strategies that do not apply to these settings."""
    from tlcore.errors import TLError
    from tlcore.strategies.specs import SPECS
    from tlcore.validation import validate

    runnable, skipped = [], []
    for name in strategies or list(SPECS):
        cfg = {**config, "strategy": name, "params": _params_for(name, config)}
        try:
            validate(RunConfig.from_dict(cfg))
            runnable.append((name, cfg))
        except TLError as exc:
            if cfg.get("feature_views"):  # views are cached features: a strategy that trains the backbone
                try:                      # runs on the images instead (its own augmentation setting)
                    cfg = {**cfg, "feature_views": 0}
                    validate(RunConfig.from_dict(cfg))
                    runnable.append((name, cfg))
                    continue
                except TLError as exc2:
                    exc = exc2
            skipped.append(f"{name} ({exc})")
    return runnable, skipped


def run_sweep(plan: list[dict], store, callbacks: list[Callable[[dict], None]] | None = None,
              on_run: Callable[[dict, object], None] | None = None) -> list[dict]:
    """Run every config of ``plan`` in this process. A failing run is recorded and the sweep goes on.

    Returns:
        ``[{"strategy", "seed", "run_id", "status", "error"}]`` in plan order.
    """
    from tlcore.errors import TLError
    from tlcore.producers import produce_run

    out = []
    for config in plan:
        row = {"strategy": config["strategy"], "seed": config["seed"], "run_id": None, "status": "failed",
               "error": None}
        try:
            rec = produce_run(config, store, callbacks=callbacks)  # a deep run or the classical baseline
            row.update(run_id=rec.run_id, status=rec.status)
        except TLError as exc:
            row["error"] = str(exc)
        if on_run:
            on_run(config, row)
        out.append(row)
    return out


def submit_sweep(queue, plan: list[dict], label: str = "", owner: str | None = None) -> dict:
    """Queue every run of the plan as a job (idempotent per sweep and position), the classical baseline too (a
    ``classical`` job): nothing is fitted in the caller's process, and with the Ray executor the sweep fans out
    over the cluster. ``runs`` stays in the result for callers that read it (always empty now)."""
    jobs = []
    for i, config in enumerate(plan):
        key = f"{config['name']}:{i}"
        jobs.append(queue.submit(config, label=label or f"{config['name']} · {config['strategy']}",
                                 submit_key=key, owner=owner))
    return {"jobs": jobs, "runs": []}


def sweep_ids(records) -> list[str]:
    """Sweep ids present among run records, newest first."""
    return list(dict.fromkeys(s for r in records if (s := sweep_of(r.name))))


def sweep_table(records, metrics_of: Callable[[str], dict], sweep_id: str, metric: str = "accuracy") -> dict:
    """The strategy x pair view of one sweep (completed runs only).

    Returns:
        ``{"value": DataFrame, "low": DataFrame, "high": DataFrame, "n_seeds": DataFrame, "gain_scratch":
        DataFrame, "gain_source_only": DataFrame, "best": {pair: strategy}, "picks": [...]}``, indexed by
        strategy with one column per pair (``"source -> target"``). With several seeds the value is the mean
        over seeds and the interval is the mean of the seeds' bootstrap bounds. ``picks``: per pair, the run the default
        unsupervised validator picks and its regret (:func:`tlcore.evaluation.selection.sweep_picks`).
    """
    rows = []
    for r in records:
        if sweep_of(r.name) != sweep_id or r.status != "completed":
            continue
        tt = (metrics_of(r.run_id) or {}).get("target_test") or {}
        if tt.get(metric) is None:
            continue
        ci = tt.get(f"{metric}_ci") or [np.nan, np.nan]
        rows.append({"strategy": r.strategy, "pair": f"{r.source} -> {r.target}", "seed": r.seed,
                     "value": tt[metric], "low": ci[0], "high": ci[1]})
    df = pd.DataFrame(rows, columns=["strategy", "pair", "seed", "value", "low", "high"])
    out = {}
    for col in ("value", "low", "high"):
        out[col] = df.pivot_table(index="strategy", columns="pair", values=col, aggfunc="mean")
    out["n_seeds"] = df.pivot_table(index="strategy", columns="pair", values="value", aggfunc="count")
    out["std"] = df.pivot_table(index="strategy", columns="pair", values="value", aggfunc="std")
    val = out["value"]
    for key, base in BASELINES.items():
        out[f"gain_{key}"] = (val - val.loc[base]) if base in val.index else pd.DataFrame(index=val.index,
                                                                                            columns=val.columns)
    out["best"] = {pair: val[pair].idxmax() for pair in val.columns if val[pair].notna().any()}
    from tlcore.evaluation.selection import sweep_picks

    out["picks"] = sweep_picks(records, metrics_of, sweep_id)  # what an unsupervised validator would ship, per pair
    return out
