"""Paired comparison, exports, HTML report and the compare/report/cv CLI on fake runs (no training)."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from tests.app.fake_runs import make_run
from tests.conftest import ROOT
from tlcore.evaluation.compare import NotPaired, compare_runs, metrics_csv, paired_test, pairing_problem
from tlcore.evaluation.error_analysis import cell_samples, confident_mistakes
from tlcore.reports.html import build_report

HOSTILE = "<img src=x onerror=alert(1)></script><script>alert(2)</script>"


@pytest.fixture
def runs(store):
    return {"a": make_run(store, name=HOSTILE, seed=0, truth_seed=7),
            "b": make_run(store, name="b", strategy="fine_tuning", seed=1, truth_seed=7),
            "other": make_run(store, name="other", seed=2)}       # its own target test set


def test_paired_test_on_shared_split(store, runs):
    out = paired_test(store, runs["a"], runs["b"], n_resamples=200)
    da = pd.read_csv(store.path(runs["a"], "predictions_target_test.csv"))
    db = pd.read_csv(store.path(runs["b"], "predictions_target_test.csv"))
    ca, cb = (da["pred"] == da["true"]).to_numpy(), (db["pred"] == db["true"]).to_numpy()
    assert out["n"] == 40
    assert out["mcnemar"]["b"] == int((ca & ~cb).sum()) and out["mcnemar"]["c"] == int((~ca & cb).sum())
    assert out["accuracy"]["diff"] == pytest.approx(cb.mean() - ca.mean())
    lo, hi = out["accuracy"]["ci"]
    assert lo <= out["accuracy"]["diff"] <= hi


def test_refuses_to_pair_different_test_sets(store, runs):
    why = pairing_problem(store, runs["a"], runs["other"])
    assert why and "different target test sets" in why
    with pytest.raises(NotPaired):
        paired_test(store, runs["a"], runs["other"])
    summary = compare_runs(store, list(runs.values()), n_resamples=100)
    assert len(summary["paired"]) == 1 and len(summary["not_paired"]) == 2
    tt = summary["runs"][runs["a"]]["target_test"]
    assert len(tt["accuracy_ci"]) == 2 and len(tt["f1_macro_ci"]) == 2 and "roc_curve" not in tt


def test_metrics_csv_and_error_cells(store, runs):
    df = pd.read_csv(io.BytesIO(metrics_csv(store, [runs["a"], runs["b"]])))
    assert set(df["split"]) == {"target_test", "source_val"}
    assert {"accuracy", "accuracy_low", "accuracy_high", "f1_macro_low", "roc_auc_high"} <= set(df.columns)
    wrong = confident_mistakes(store, runs["a"])
    assert (wrong["true"] != wrong["pred"]).all() and wrong["confidence"].is_monotonic_decreasing
    t, p = wrong.iloc[0]["true"], wrong.iloc[0]["pred"]
    cell = cell_samples(store, runs["a"], t, p)
    assert len(cell) >= 1 and (cell["true"] == t).all() and (cell["pred"] == p).all()
    assert cell["confidence"].is_monotonic_decreasing


def test_report_is_self_contained_and_escaped(store, runs):
    page = build_report(store, list(runs.values()), n_resamples=100)
    assert "Plotly.newPlot" in page and len(page) > 1_000_000            # plotly.js inlined
    assert not re.search(r"<script[^>]+src=['\"]?https?:", page, re.I)    # nothing fetched from the network
    assert HOSTILE not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count('class="plotly-graph-div"') >= 4
    assert "McNemar" in page and "different target test sets" in page


def _cli(home, *args):
    env = {**os.environ, "TL_HOME": str(home)}
    res = subprocess.run([sys.executable, "-m", "tlcore", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_cli_compare_report_cv(store, runs, tl_home, tmp_path):
    out = _cli(tl_home, "compare", runs["a"], runs["b"], "--resamples", "200")
    assert out["runs"][runs["a"]]["target_test"]["accuracy_ci"][0] <= out["runs"][runs["a"]]["target_test"]["accuracy"]
    assert out["paired"][0]["mcnemar"]["p_value"] <= 1
    rep = _cli(tl_home, "report", runs["a"], runs["b"], "--out", str(tmp_path / "r.html"))
    assert (tmp_path / "r.html").stat().st_size == rep["bytes"] > 1_000_000
    cv = _cli(tl_home, "cv", runs["a"], "--k", "3")
    assert cv["k"] == 3 and 0 <= cv["accuracy_mean"] <= 1 and len(cv["folds"]) == 3
