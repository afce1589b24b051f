"""Embeddings page (AppTest) on fake runs with stored features: no training."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tlcore.runs.store import RunStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fake_runs import make_run  # noqa: E402

ROOT = HERE.parents[1]
PAGE = str(ROOT / "pages" / "embeddings.py")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_HOME", str(tmp_path / "tl_home"))
    monkeypatch.setenv("TL_NO_AUTOWORKER", "1")
    monkeypatch.chdir(ROOT)
    return tmp_path / "tl_home"


def page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def spec(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_no_completed_run_shows_info(home):
    make_run(RunStore(home), status="failed")
    at = page()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)


def test_scatter_of_latest_run_with_gap_metrics(home):
    store = RunStore(home)
    make_run(store, name="older", seed=0)
    latest = make_run(store, name="latest", seed=1, text=True)
    at = page()
    assert not at.exception
    assert at.selectbox[0].value == latest
    fig = spec(at)
    traces = fig["data"]
    assert {t["type"] for t in traces} == {"scattergl"}
    assert {t["name"] for t in traces} == {"source", "target"}
    assert "% of variance" in fig["layout"]["xaxis"]["title"]["text"]
    hover = traces[0]["customdata"][0]
    assert hover[0] == "source" and len(hover[4]) <= 120          # text snippet truncated
    labels = [m.label for m in at.metric]
    assert "MMD² (RBF kernel)" in labels and "Proxy A-distance" in labels
    assert list(store.folder(latest).glob("projection_pca_2d_*.npz"))   # engine cache written


def test_colour_by_class_and_point_cap(home):
    make_run(RunStore(home), n=60)
    at = page()
    at.selectbox[2].set_value("label").run()      # Colour by -> true class
    at.number_input[0].set_value(100).run()
    assert not at.exception
    traces = spec(at)["data"]
    assert len(traces) == 6                        # 3 classes x 2 domains
    assert sum(len(t["customdata"]) for t in traces) == 100
    assert {t["marker"]["symbol"] for t in traces} == {"circle", "diamond"}


def test_completed_run_without_features_warns(home):
    store = RunStore(home)
    rid = make_run(store)
    store.path(rid, "features_after.npz").unlink()
    at = page()
    assert not at.exception
    assert any("no stored features" in w.value for w in at.warning)
