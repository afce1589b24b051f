"""Paired comparison of runs evaluated on the same target test samples.

Two runs are paired only when their target test sets are provably the same samples: equal target-data
fingerprints and equal test indices (``repro.json``'s ``test_fingerprint``, else rebuilt from
``domains.json`` + ``split.json``). Their ``predictions_target_test.csv`` are then joined on ``index``.
"""
from __future__ import annotations

import io
import itertools

import numpy as np
import pandas as pd

from tlcore.errors import TLError
from tlcore.evaluation.statistics import mcnemar_exact, paired_bootstrap_diff

SUMMARY_KEYS = ("n", "accuracy", "accuracy_ci", "balanced_accuracy", "precision_macro", "recall_macro",
                "f1_macro", "f1_macro_ci", "f1_weighted", "roc_auc", "roc_auc_ci", "log_loss", "ece")


class NotPaired(TLError):
    """Two runs cannot be paired: their target test sets differ (or one is missing)."""


def predictions(store, run_id: str, split: str = "target_test") -> pd.DataFrame:
    """``predictions_<split>.csv`` of a run as a DataFrame (empty when missing)."""
    p = store.local(run_id, f"predictions_{split}.csv")
    if not p.is_file():
        return pd.DataFrame()
    return pd.read_csv(p, keep_default_na=False, na_values=[])


def target_test_identity(store, run_id: str) -> str | None:
    """Digest identifying the run's target test samples, ``None`` when the run lacks the files."""
    from tlcore.reports.repro import target_test_fingerprint

    card = store.read_json(run_id, "repro.json") or {}
    if card.get("test_fingerprint"):
        return card["test_fingerprint"]
    split = store.read_json(run_id, "split.json")
    domains = store.read_json(run_id, "domains.json") or {}
    if not isinstance(split, dict) or not domains.get("target_fingerprint"):
        return None
    return target_test_fingerprint(split, domains.get("target_fingerprint"))


def pairing_problem(store, run_a: str, run_b: str) -> str | None:
    """Why two runs cannot be paired, or ``None`` when they can."""
    ia, ib = target_test_identity(store, run_a), target_test_identity(store, run_b)
    if ia is None or ib is None:
        missing = run_a if ia is None else run_b
        return (f"run {missing} has no record of its target test set (split.json / domains.json), "
                f"so it cannot be shown to share samples with the other run")
    if ia != ib:
        return (f"runs {run_a} and {run_b} were evaluated on different target test sets (different data, "
                f"seed, max_samples_per_domain or test fraction); a paired test needs the very same samples. "
                f"Compare them unpaired, with their confidence intervals, or re-run one with the other's settings")
    return None


def paired_test(store, run_a: str, run_b: str, n_resamples: int = 1000, seed: int = 0) -> dict:
    """McNemar's exact test and paired bootstraps (accuracy, macro F1) of B - A on the shared test set.

    Raises:
        NotPaired: the runs' target test sets differ, or they have no labelled predictions.
    """
    problem = pairing_problem(store, run_a, run_b)
    if problem:
        raise NotPaired(problem)
    da, db = predictions(store, run_a), predictions(store, run_b)
    if da.empty or db.empty:
        raise NotPaired("both runs need predictions_target_test.csv")
    classes = (store.metrics(run_a).get("classes") or [c[2:] for c in da.columns if c.startswith("p_")])
    j = da.merge(db, on="index", suffixes=("_a", "_b"))
    j = j[j["true_a"].astype(str) != ""]
    if j.empty:
        raise NotPaired("the shared target test set has no labels, so there is nothing to test")
    cls_index = {c: i for i, c in enumerate(classes)}
    y = j["true_a"].astype(str).map(cls_index).to_numpy()
    pa = j[[f"p_{c}_a" for c in classes]].to_numpy(dtype=np.float64)
    pb = j[[f"p_{c}_b" for c in classes]].to_numpy(dtype=np.float64)
    correct_a = j["pred_a"].astype(str).to_numpy() == j["true_a"].astype(str).to_numpy()
    correct_b = j["pred_b"].astype(str).to_numpy() == j["true_a"].astype(str).to_numpy()
    return {"a": run_a, "b": run_b, "n": int(len(j)), "mcnemar": mcnemar_exact(correct_a, correct_b),
            "accuracy": paired_bootstrap_diff(y, pa, pb, "accuracy", n_resamples, seed),
            "f1_macro": paired_bootstrap_diff(y, pa, pb, "f1_macro", n_resamples, seed)}


def compare_runs(store, run_ids: list[str], n_resamples: int = 1000, seed: int = 0) -> dict:
    """Summary metrics (with intervals) of each run and a paired test for every pair sharing a test set.

    Returns:
        ``{"runs": {run_id: {"name", "strategy", "backbone", "pair", "target_test": {...}, "source_val": {...}}},
        "paired": [paired_test(...) ...], "not_paired": [{"a", "b", "reason"} ...]}``
    """
    runs = {}
    for rid in run_ids:
        rec = store.get(rid)
        m = store.metrics(rid)
        runs[rid] = {"name": rec.name, "strategy": rec.strategy, "backbone": rec.backbone, "status": rec.status,
                     "pair": f"{rec.source} -> {rec.target}",
                     **{k: summarize(m.get(k)) for k in ("target_test", "source_val", "target_train") if m.get(k)}}
    paired, not_paired = [], []
    for a, b in itertools.combinations(run_ids, 2):
        try:
            paired.append(paired_test(store, a, b, n_resamples, seed))
        except NotPaired as exc:
            not_paired.append({"a": a, "b": b, "reason": str(exc)})
    return {"runs": runs, "paired": paired, "not_paired": not_paired}


def summarize(m: dict | None) -> dict:
    """The scalar metrics and their intervals (no curves, matrices or per-class tables)."""
    return {k: m[k] for k in SUMMARY_KEYS if k in (m or {})}


def metrics_csv(store, run_ids: list[str]) -> bytes:
    """One row per run and split: the scalar metrics, intervals as ``*_low`` / ``*_high`` columns."""
    rows = []
    for rid in run_ids:
        m = store.metrics(rid)
        for split in ("target_test", "source_val", "target_train"):
            s = summarize(m.get(split))
            if not s:
                continue
            row = {"run_id": rid, "split": split}
            for k, v in s.items():
                if isinstance(v, list):
                    row[f"{k[:-3]}_low"], row[f"{k[:-3]}_high"] = (v + [None, None])[:2]
                else:
                    row[k] = v
            rows.append(row)
    buf = io.StringIO()
    from tlcore.runs.csvsafe import safe_frame

    safe_frame(pd.DataFrame(rows)).to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")
