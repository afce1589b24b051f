"""Compare page, evaluation parts (AppTest, fake runs): intervals, paired tests, errors, CV, repro, sweeps."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tlcore.runs.store import RunStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apptest_paths import open_tab  # noqa: E402
from fake_runs import make_run  # noqa: E402

PAGE = str(HERE.parents[1] / "views" / "compare.py")


@pytest.fixture
def runs(tl_home):
    store = RunStore(tl_home)
    ids = {"other": make_run(store, name="other", strategy="dann", seed=3),
           "a": make_run(store, name="sweep:s1", strategy="scratch", seed=0, truth_seed=5),
           "b": make_run(store, name="sweep:s1", strategy="fine_tuning", seed=1, truth_seed=5),
           "c": make_run(store, name="sweep:s1", strategy="linear_probe", seed=2, truth_seed=5)}
    return store, ids


def page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def test_intervals_paired_test_and_sweep_table(runs):
    store, ids = runs
    at = open_tab(page(), "Metrics")
    assert not at.exception
    frames = {tuple(d.value.columns)[:3]: d.value for d in at.dataframe}
    metrics = next(v for k, v in frames.items() if k[:2] == ("run", "split"))
    assert metrics["accuracy"].str.match(r"^\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$").all()
    bars = next(c for c in at.get("plotly_chart") if "Accuracy and macro F1" in c.proto.spec)
    assert '"error_y"' in bars.proto.spec
    # default A/B: the two newest selected runs, which share a test set -> a paired table
    open_tab(at, "Paired test")
    frames = {tuple(d.value.columns)[:3]: d.value for d in at.dataframe}
    paired = next(v for k, v in frames.items() if k[0] == "test")
    assert paired["test"].str.contains("McNemar").any()
    # sweep section (with the runs table): strategy x pair, best highlighted, gains
    open_tab(at, "Runs table")
    assert at.selectbox(key="tl_sweep").value == "s1"
    cells = at.dataframe[-2].value       # the last two tables: sweep cells, then gains
    assert set(cells.index) == {"scratch", "fine_tuning", "linear_probe"} and "photos -> sketches" in cells.columns
    gains = at.dataframe[-1].value
    assert any("gain over scratch" in c for c in gains.columns)


def test_refuses_pairing_different_test_sets(runs):
    store, ids = runs
    at = open_tab(page(), "Paired test")
    at.selectbox(key="tl_compare_a").set_value(ids["other"]).run()
    assert not at.exception
    assert any("cannot be paired" in w.value and "different target test sets" in w.value for w in at.warning)


def test_error_analysis_cv_repro_and_report(runs):
    store, ids = runs
    at = open_tab(page(), "Inspect one run")
    at.selectbox(key="tl_compare_focus").set_value(ids["a"]).run()
    t, p = at.selectbox(key="tl_err_true").value, at.selectbox(key="tl_err_pred").value
    assert t != p                                            # defaults to the largest off-diagonal cell
    table = next(d.value for d in at.dataframe if "confidence" in d.value.columns and "pred" in d.value.columns)
    assert (table["true"] == t).all() and (table["pred"] == p).all() and table["confidence"].is_monotonic_decreasing
    at.button(key="tl_cv_go").click().run()
    assert any("accuracy" in s.value and "±" in s.value for s in at.success)
    downloads = len(at.get("download_button"))                 # predictions (the open tab only)
    open_tab(at, "Share")
    at.button(key="tl_report_build").click().run()
    assert not at.exception
    assert at.session_state["tl_report_html"].startswith(b"<!DOCTYPE html>")
    assert downloads >= 1 and len(at.get("download_button")) >= 1   # the report
