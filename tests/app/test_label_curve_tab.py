"""Compare's "Label curve" tab (AppTest, fake runs): a finished ``label_curve`` job's result is drawn (one line per
method with 95 % intervals) and tabled; the form queues a ``label_curve`` job through the one job system."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tlcore.job_context import job_folder
from tlcore.jobs.queue import JobQueue
from tlcore.runs.store import RunStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apptest_paths import open_tab  # noqa: E402
from fake_runs import make_run  # noqa: E402

PAGE = str(HERE.parents[1] / "views" / "compare.py")
SUMMARY = [{"method": m, "labels": n, "accuracy": a, "accuracy_ci": [a - 0.02, a + 0.02], "seeds": 3}
           for m, n, a in (("random", 0, 0.60), ("random", 10, 0.65), ("random", 20, 0.70),
                           ("badge", 0, 0.60), ("badge", 10, 0.71), ("badge", 20, 0.78))]


def _finished_curve(home, run_id: str) -> str:
    queue = JobQueue(RunStore(home))
    job = queue.submit({"run_id": run_id, "budgets": [10, 20], "methods": ["random", "badge"], "seeds": [0, 1, 2]},
                       kind="label_curve", owner="ana")
    queue.update(job, status="running")
    queue.finish(job, "completed")
    folder = job_folder(home, job)
    folder.mkdir(parents=True)
    rows = [{"method": s["method"], "seed": 0, "labels": s["labels"], "accuracy": s["accuracy"], "accuracy_ci": [],
             "run_id": f"r{i}", "label_set": None, "strategy": "multitask"} for i, s in enumerate(SUMMARY)]
    (folder / "result.json").write_text(json.dumps({"rows": rows, "summary": SUMMARY, "run_id": run_id,
                                                    "pair": "photos → sketches", "budgets": [10, 20],
                                                    "methods": ["random", "badge"], "seeds": [0, 1, 2]}))
    return job


def _trainable_run(store) -> str:
    """A completed run whose config validates (a label curve trains it again)."""
    run_id = store.create({"name": "base", "source": {"demo": "digits"}, "target": {"demo": "digits"},
                           "strategy": "fine_tuning", "backbone": "tiny_cnn", "epochs": 1}, status="running")
    store.finish(run_id, "completed", seconds=1.0)
    return run_id


def test_the_tab_draws_a_finished_curve_and_queues_a_new_one(tl_home):
    store = RunStore(tl_home)
    make_run(store, name="shown", strategy="fine_tuning")
    run_id = _trainable_run(store)
    _finished_curve(tl_home, run_id)
    at = open_tab(AppTest.from_file(PAGE, default_timeout=60).run(), "Label curve")
    assert not at.exception
    chart = at.get("plotly_chart")[0].proto.spec
    spec = json.loads(chart)
    lines = {t["name"]: t for t in spec["data"]}
    assert set(lines) == {"random", "badge"}
    assert lines["badge"]["x"] == [0, 10, 20] and lines["badge"]["y"] == [60.0, 71.0, 78.0]
    assert all(abs(v - 2.0) < 1e-6 for v in lines["badge"]["error_y"]["array"] + lines["badge"]["error_y"][
        "arrayminus"])  # the intervals are drawn
    assert spec["layout"]["title"]["text"] == "What labels buy: photos → sketches"
    table = at.dataframe[-1].value
    assert list(table.columns) == ["labels", "method", "accuracy", "95% interval", "seeds"]
    assert table[(table["labels"] == 20) & (table["method"] == "badge")]["accuracy"].item() == 78.0

    at.selectbox(key="tl_curve_run").set_value(run_id)
    at.text_input(key="tl_curve_budgets").set_value("5, 15")
    at.multiselect(key="tl_curve_methods").set_value(["random", "margin"])
    at.number_input(key="tl_curve_seeds").set_value(2)
    at.button[-1].click()  # the form's "Start label curve"
    at.run()
    assert not at.exception
    job = JobQueue(store).list(kinds=("label_curve",))[0]
    assert job.status == "queued" and job.config == {"run_id": run_id, "budgets": [5, 15],
                                                     "methods": ["random", "margin"], "seeds": [0, 1]}
    assert any("queued" in s.value for s in at.success)


def test_bad_numbers_of_labels_are_named(tl_home):
    make_run(RunStore(tl_home), name="base")
    at = open_tab(AppTest.from_file(PAGE, default_timeout=60).run(), "Label curve")
    assert not at.exception and any("No label curve yet" in i.value for i in at.info)
    at.text_input(key="tl_curve_budgets").set_value("ten")
    at.button[-1].click()
    at.run()
    assert any("Numbers of labels" in e.value for e in at.error)
    assert not JobQueue(RunStore(tl_home)).list(kinds=("label_curve",))
