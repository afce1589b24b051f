"""Predict page (AppTest): a real text run answered by the predict-server child, and the Compare page's export
and compression section."""
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

ROOT = HERE.parents[1]
PAGE = str(ROOT / "views" / "predict.py")
COMPARE = str(ROOT / "views" / "compare.py")


@pytest.fixture
def home(tl_home):
    yield tl_home
    from ui.predict_view import _client

    _client.clear()  # drops the handle: the server child sees its stdin close and exits


def test_no_usable_run_points_to_train(home):
    make_run(RunStore(home), status="failed")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)


def test_a_sentence_gets_top_k_from_each_selected_run(home):
    from tests.tlcore.export.artifacts import artifact_run

    store = RunStore(home)
    base, _ = artifact_run(store, "tiny_text", "reviews", strategy="fine_tuning", name="source only")
    adapted, _ = artifact_run(store, "tiny_text", "reviews", strategy="dann", seed=1, name="dann")
    at = AppTest.from_file(PAGE, default_timeout=180).run()
    assert not at.exception
    assert set(at.multiselect[0].value) == {base, adapted}  # source-only and adapted, side by side
    at.text_area(key="tl_predict_text").input("a sharp knife and a [link](http://x)").run()
    at.button(key="tl_predict_go").click().run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric] and all(m.value in ("negative", "positive") for m in at.metric)
    assert len(at.metric) == 2 and len(at.dataframe) == 2
    assert any("Answered in" in c.value for c in at.caption)
    at.button(key="tl_predict_go").click().run()  # second answer: the models are loaded
    assert not any("model loaded" in c.value for c in at.caption)


def test_compare_shows_the_compression_table_and_export_controls(home):
    store = RunStore(home)
    rid = make_run(store, name="small")
    m = store.metrics(rid)
    m["parent_run_id"] = "parent-1"
    m["compression"] = {"prune": 0.5, "quantize": "int8", "table": [
        {"model": "parent", "target_accuracy": 0.8, "target_accuracy_ci": [0.7, 0.9], "size_mb": 86.0,
         "size_zipped_mb": 80.0, "latency_ms_batch1": 12.0, "latency_ms_batch32": 4.0, "sparsity": 0.0},
        {"model": "compressed", "target_accuracy": 0.79, "target_accuracy_ci": [0.69, 0.89], "size_mb": 30.0,
         "size_zipped_mb": 20.0, "latency_ms_batch1": 5.0, "latency_ms_batch32": 1.5, "sparsity": 0.5}]}
    store.write_json(rid, "metrics.json", m)
    at = open_tab(AppTest.from_file(COMPARE, default_timeout=60).run(), "Use the model")
    assert not at.exception
    tables = [d.value for d in at.dataframe if "CPU ms/sample, batch 1" in d.value.columns]
    assert tables and list(tables[0]["model"]) == ["parent", "compressed"]
    assert tables[0]["target accuracy [95% CI]"][0] == "0.800 [0.700, 0.900]"
    assert at.button(key="tl_export_go") and at.button(key="tl_compress_go")


def test_item7_export_and_compress_buttons_queue_jobs_that_the_page_can_cancel(home):
    """Export and Compress queue jobs of the one queue (nothing starts in the dashboard); the exports panel polls
    their snapshots and its Cancel cancels them."""
    from tlcore.jobs.queue import JobQueue
    from tests.tlcore.export.artifacts import artifact_run

    store = RunStore(home)
    artifact_run(store, "tiny_cnn", "digits", name="small")
    at = open_tab(AppTest.from_file(COMPARE, default_timeout=60).run(), "Use the model")
    assert not at.exception
    at.button(key="tl_export_go").click().run()
    at.button(key="tl_compress_go").click().run()
    assert not at.exception, at.exception
    jobs = JobQueue(store).list()
    assert sorted(j.kind for j in jobs) == ["compress", "export"] and {j.status for j in jobs} == {"queued"}
    for job in jobs:
        at.button(key=f"tl_job_cancel_{job.job_id}").click().run()
    assert {j.status for j in JobQueue(store).list()} == {"cancelled"}
    at.run()  # the next poll
    assert sum("cancelled" in e.value for e in at.error) == 2
