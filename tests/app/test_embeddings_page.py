"""Embeddings page (AppTest) on fake runs with stored before/after features: no training."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tlcore.runs.store import RunStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fake_runs import make_run  # noqa: E402

ROOT = HERE.parents[1]
PAGE = str(ROOT / "views" / "embeddings.py")


@pytest.fixture
def home(tl_home):  # the shared fresh data root (conftest)
    return tl_home


def add_before(store, rid, spread=3.0):
    """features_before.npz: the after-features' samples, with a larger source/target offset."""
    with np.load(store.path(rid, "features_after.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["target_test.features"] = (arrays["target_test.features"].astype(np.float32) + spread).astype(np.float16)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    store.write_bytes(rid, "features_before.npz", buf.getvalue())


def page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_no_completed_run_shows_info(home):
    make_run(RunStore(home), status="failed")
    at = page()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)


def test_before_and_after_side_by_side_with_gap_table(home):
    store = RunStore(home)
    make_run(store, name="older", seed=0)
    latest = make_run(store, name="latest", seed=1, text=True)
    add_before(store, latest)
    at = page()
    assert not at.exception
    assert at.selectbox[0].value == latest
    figs = specs(at)
    assert len(figs) == 2
    assert [f["layout"]["title"]["text"].split(":")[0] for f in figs] == ["Before training", "After training"]
    for fig in figs:
        assert {t["type"] for t in fig["data"]} == {"scattergl"}
        assert {t["name"] for t in fig["data"]} == {"source", "target"}
        assert "% of variance" in fig["layout"]["xaxis"]["title"]["text"]
    hover = figs[1]["data"][0]["customdata"][0]
    assert hover[1] == "source" and len(hover[5]) <= 100               # text snippet truncated
    gap = at.dataframe[0].value
    assert list(gap.columns[:3]) == ["measure", "before training", "after training"]
    assert gap["before training"].notna().all() and gap["after training"].notna().all()
    mmd = gap.set_index("measure").iloc[0]
    assert mmd["before training"] > mmd["after training"]              # the fake before is further apart
    assert list(store.folder(latest).glob("projection_pca_2d_*.npz"))  # engine cache written


@pytest.mark.parametrize("colour,n_traces", [("label", 6), ("correct", None), ("confidence", 2)])
def test_colour_options_and_marker_by_domain(home, colour, n_traces):
    store = RunStore(home)
    add_before(store, make_run(store, n=60))
    at = page()
    at.selectbox[2].set_value(colour).run()
    assert not at.exception
    traces = specs(at)[1]["data"]
    if n_traces:
        assert len(traces) == n_traces
    assert sum(len(t["customdata"]) for t in traces) == 120
    symbols = set()
    for t in traces:
        s = t["marker"]["symbol"]
        symbols |= set(s) if isinstance(s, list) else {s}
    assert symbols == {"circle", "diamond"}
    if colour == "confidence":
        assert traces[0]["marker"]["colorscale"]


def test_selection_is_highlighted_in_both_and_listed_with_neighbours(home):
    store = RunStore(home)
    rid = make_run(store, n=30)
    add_before(store, rid)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["emb-run"] = rid
    at.session_state["emb-selection"] = [1, 35]   # a source and a target point
    at.run()
    assert not at.exception
    for fig in specs(at):
        sel = [t for t in fig["data"] if t["name"] == "selected"]
        assert len(sel) == 1 and sorted(int(c[0]) for c in sel[0]["customdata"]) == [1, 35]
    assert any("Selected samples (2)" in h.value for h in at.subheader)
    tables = [d.value for d in at.dataframe]
    assert any(len(t) == 2 and "predicted" in t.columns for t in tables)
    nn = [t for t in tables if "similarity" in t.columns]
    assert nn and len(nn[0]) == 8 and set(nn[0]["domain"]) == {"source"}
    assert nn[0]["similarity"].is_monotonic_decreasing


def test_run_without_before_features_offers_background_extraction(home, monkeypatch):
    store = RunStore(home)
    rid = make_run(store)
    launched = []
    from tlcore.jobs import light

    monkeypatch.setattr(light, "launch_extraction", lambda s, r, **kw: launched.append((r, kw)) or 1)
    at = page()
    assert not at.exception
    assert any("no before-training features" in w.value for w in at.warning)
    assert len(specs(at)) == 1                                          # the after chart still shows
    button = next(b for b in at.button if "Extract" in b.label)
    button.click().run()
    assert launched and launched[0][0] == rid


def test_tsne_not_cached_runs_in_background_not_in_the_page(home):
    store = RunStore(home)
    rid = make_run(store)
    add_before(store, rid)
    at = page()
    at.selectbox[1].set_value("tsne").run()
    assert not at.exception
    assert any("not computed yet" in i.value for i in at.info)
    assert not list(store.folder(rid).glob("projection_tsne_*"))
    assert any("Compute t-SNE" in b.label for b in at.button)


def test_compare_two_runs_on_the_same_samples(home):
    store = RunStore(home)
    a = make_run(store, name="source-only", seed=0)
    b = make_run(store, name="dann", seed=1, strategy="dann")
    add_before(store, b)
    at = page()
    at.radio[1].set_value("Compare with another run").run()
    assert not at.exception
    figs = specs(at)
    assert len(figs) == 2 and "source-only" in figs[1]["layout"]["title"]["text"]
    assert at.selectbox[3].value == a


def test_compare_with_a_run_without_features_warns_about_that_run_and_extracts_nothing(home, monkeypatch):
    """Issue 24 item 3: the other run lacks its features; the warning named "this run" and offered to extract
    the current run's before-training features (which it had). No job can make after-training features."""
    store = RunStore(home)
    other = make_run(store, name="old-baseline", seed=0)
    current = make_run(store, name="adapted", seed=1, strategy="dann")
    add_before(store, current)
    store.path(other, "features_after.npz").unlink()
    launched = []
    from tlcore.jobs import light

    monkeypatch.setattr(light, "launch_extraction", lambda s, r, **kw: launched.append(r) or 1)
    at = page()
    assert at.selectbox[0].value == current
    at.radio[1].set_value("Compare with another run").run()
    assert not at.exception
    assert at.selectbox[3].value == other
    warnings = [w.value.replace("\\", "") for w in at.warning]  # names are Markdown-escaped
    assert any("old-baseline" in w and "after-training" in w for w in warnings), warnings
    assert not any("adapted" in w or "before-training" in w for w in warnings), warnings
    assert not any("Extract" in b.label for b in at.button)           # nothing to extract for either run
    assert len(specs(at)) == 1                                         # this run's chart still shows
    assert not launched


def test_completed_run_without_features_warns(home):
    store = RunStore(home)
    rid = make_run(store)
    store.path(rid, "features_after.npz").unlink()
    at = page()
    assert not at.exception
    assert any("no stored features" in w.value for w in at.warning)


def test_domains_page_shows_a_cached_shift_report_or_offers_to_compute_it(home, monkeypatch):
    from tlcore.embeddings import shift
    from tlcore.jobs import light

    at = AppTest.from_file(str(ROOT / "views" / "domains.py"), default_timeout=60).run()
    assert not at.exception
    assert any(h.value == "Shift report" for h in at.header)
    started = []
    monkeypatch.setattr(light, "launch_shift_report",
                        lambda s, t, root, backbone=None, **kw: started.append((s, t)) or 1)
    next(b for b in at.button if b.label == "Compute the shift report").click().run()
    assert started and started[0][0] == {"demo": "digits"}
    src, tgt = started[0]
    gap = {"mmd": 0.31, "a_distance": 1.62, "coral": 0.002, "centroid": 0.8, "n_source": 500, "n_target": 500}
    path = shift.report_path(home, src, tgt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"status": "done", "gap": gap, "backbone": "efficientnet_lite0", "seconds": 9.5,
                                "classes_shared": 10}))
    at.run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "value" in d.value.columns)
    assert table["value"].tolist() == [0.31, 1.62, 0.002, 0.8]
