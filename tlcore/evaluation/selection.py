"""Choosing a run without target labels, and measuring how well each validator chooses when labels exist.

Input everywhere is a list of plain *candidates*: ``{"run_id", "label", "scores": {validator: float|None},
"accuracy": float|None}`` (``accuracy`` = target-test accuracy when the target is labeled). Build them from
a store with :func:`candidates`.

* :func:`rank_runs`: runs ordered by one validator (best first); the first is the recommended run.
* :func:`validator_report`: per validator, Spearman and Kendall rank correlation between its scores and
  target accuracy over the runs, the run it picks and the **regret** (best accuracy minus the accuracy of
  the pick), as in Musgrave et al., "Three New Validators and a Large-Scale Benchmark Ranking for
  Unsupervised Domain Adaptation", 2022.
* :func:`sweep_picks`: per pair of a sweep, the validator's pick and its regret.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from tlcore.evaluation.validators import DEFAULT, VALIDATORS, gate_passes


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def candidate(run_id: str, metrics: dict, label: str = "") -> dict:
    """One candidate from a run's metrics dict."""
    tu = (metrics or {}).get("target_unsupervised") or {}
    tt = (metrics or {}).get("target_test") or {}
    return {"run_id": run_id, "label": label or run_id, "scores": dict(tu.get("scores") or {}),
            "accuracy": tt.get("accuracy") if _finite(tt.get("accuracy")) else None}


def candidates(store, run_ids: list[str]) -> list[dict]:
    """Candidates for ``run_ids`` read from ``store`` (label: strategy, backbone and seed)."""
    out = []
    for rid in run_ids:
        rec = store.get(rid)
        label = f"{rec.strategy} · {rec.backbone} · seed {rec.seed}"
        out.append(candidate(rid, store.metrics(rid) or {}, label))
    return out


def check_validator(name: str) -> str:
    if name not in VALIDATORS:
        raise ValueError(f"unknown validator {name!r}; known: {', '.join(VALIDATORS)}")
    return name


def rank_runs(cands: list[dict], by: str = DEFAULT) -> list[dict]:
    """Candidates that have a score for ``by``, best first (ties keep the given order), each with ``score``,
    ``rank`` (1 = recommended) and ``gated`` (True: the run failed the validator's gate, e.g. its source
    accuracy is below the median of these runs, and is ranked after every run that passed). Runs without the
    score (older runs, classical baselines) are left out."""
    check_validator(by)
    scored = [dict(c, score=c["scores"].get(by)) for c in cands if _finite(c["scores"].get(by))]
    gate = VALIDATORS[by].gate
    passes = gate_passes(by, [c["scores"].get(gate) if gate else None for c in scored])
    for c, ok in zip(scored, passes):
        c["gated"] = not ok
    scored.sort(key=lambda c: (c["gated"], -c["score"]))
    for i, c in enumerate(scored, 1):
        c["rank"] = i
    return scored


def recommend(cands: list[dict], by: str = DEFAULT) -> dict | None:
    """The recommended run (highest ``by`` score), or None when no candidate has that score."""
    ranked = rank_runs(cands, by)
    return ranked[0] if ranked else None


def _correlations(scores: np.ndarray, acc: np.ndarray) -> tuple[float | None, float | None]:
    from scipy.stats import kendalltau, spearmanr

    if len(scores) < 3 or np.ptp(scores) == 0 or np.ptp(acc) == 0:
        return None, None
    rho = spearmanr(scores, acc).statistic
    tau = kendalltau(scores, acc).statistic
    return (float(rho) if math.isfinite(rho) else None, float(tau) if math.isfinite(tau) else None)


def validator_report(cands: list[dict], names: list[str] | None = None) -> list[dict]:
    """One row per validator over the candidates that have both its score and a target accuracy.

    Row: ``validator, title, n, spearman, kendall, pick (run_id), pick_label, pick_accuracy, best_accuracy,
    median_accuracy, regret`` (points of accuracy lost by trusting the validator; 0 = it picked the best run).
    """
    rows = []
    for name in names or list(VALIDATORS):
        pool = [c for c in cands if _finite(c["scores"].get(name)) and c["accuracy"] is not None]
        row = {"validator": name, "title": VALIDATORS[name].title, "n": len(pool), "spearman": None,
               "kendall": None, "pick": None, "pick_label": None, "pick_accuracy": None, "best_accuracy": None,
               "median_accuracy": None, "regret": None}
        if pool:
            ranked = rank_runs(pool, name)  # the validator's order (its gate included), best first
            pool = ranked
            s = -np.array([c["rank"] for c in ranked], float)
            if VALIDATORS[name].gate is None:  # correlations on the scores themselves (ties kept)
                s = np.array([c["score"] for c in ranked], float)
            a = np.array([c["accuracy"] for c in ranked], float)
            pick = ranked[0]
            row.update(pick=pick["run_id"], pick_label=pick["label"], pick_accuracy=pick["accuracy"],
                       best_accuracy=float(a.max()), median_accuracy=float(np.median(a)),
                       regret=float(a.max() - pick["accuracy"]))
            row["spearman"], row["kendall"] = _correlations(s, a)
        rows.append(row)
    return rows


def select(store, run_ids: list[str], by: str = DEFAULT) -> dict:
    """``tlcore select``: the recommended run among ``run_ids`` by validator ``by``, plain JSON-ready."""
    cands = candidates(store, run_ids)
    ranked = rank_runs(cands, by)
    missing = [c["run_id"] for c in cands if not _finite(c["scores"].get(by))]
    best = ranked[0] if ranked else None
    return {"by": by, "run_id": best and best["run_id"], "score": best and best["score"],
            "label": best and best["label"],
            "ranking": [{"run_id": c["run_id"], "score": c["score"], "rank": c["rank"], "gated": c["gated"]}
                    for c in ranked],
            "unscored": missing}


def sweep_picks(records, metrics_of: Callable[[str], dict], sweep_id: str, by: str = DEFAULT) -> list[dict]:
    """Per pair of sweep ``sweep_id``: the run ``by`` picks (strategy, seed, score, accuracy), the best run's
    accuracy and the regret. Completed runs with a score only."""
    from tlcore.sweep_naming import sweep_of

    check_validator(by)
    pairs: dict[str, list[tuple]] = {}
    for r in records:
        if sweep_of(r.name) != sweep_id or r.status != "completed":
            continue
        c = candidate(r.run_id, metrics_of(r.run_id) or {}, f"{r.strategy} · seed {r.seed}")
        pairs.setdefault(f"{r.source} -> {r.target}", []).append((c, r))
    out = []
    for pair, items in pairs.items():
        ranked = rank_runs([c for c, _ in items], by)
        accs = [c["accuracy"] for c, _ in items if c["accuracy"] is not None]
        row = {"pair": pair, "validator": by, "runs": len(items), "pick": None, "strategy": None, "seed": None,
               "score": None, "pick_accuracy": None, "best_accuracy": max(accs) if accs else None, "regret": None}
        if ranked:
            pick = ranked[0]
            rec = next(r for c, r in items if c["run_id"] == pick["run_id"])
            row.update(pick=pick["run_id"], strategy=rec.strategy, seed=rec.seed, score=pick["score"],
                       pick_accuracy=pick["accuracy"])
            if pick["accuracy"] is not None and accs:
                row["regret"] = float(max(accs) - pick["accuracy"])
        out.append(row)
    return out
