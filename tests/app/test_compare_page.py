"""Compare page (AppTest) with fake runs written straight to the store: no training."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tlcore.runs.store import RunStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apptest_paths import open_tab  # noqa: E402
from fake_runs import make_run  # noqa: E402

ROOT = HERE.parents[1]
PAGE = str(ROOT / "views" / "compare.py")


@pytest.fixture
def home(tl_home):  # the shared fresh data root (conftest)
    return tl_home


@pytest.fixture
def runs(home):
    store = RunStore(home)
    ids = {
        "a": make_run(store, name="probe-a", seed=0),
        "b": make_run(store, name="ft-b", strategy="fine_tuning", seed=1),
        "c": make_run(store, name="=cmd|calc", strategy="scratch", backbone="tiny_cnn", target="paintings", seed=2),
        "bad": make_run(store, name="broken", status="failed", error="ConfigError: backbone not found"),
    }
    return store, ids


def page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def widget(elements, label):
    return next(e for e in elements if e.label == label)


def test_empty_store_points_to_train_page(home):
    at = page()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 0


def test_table_selection_and_charts(runs):
    store, ids = runs
    at = page()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 4
    assert {"run", "pair", "backbone", "strategy", "status", "target accuracy (%)", "target macro F1 (%)",
            "source val accuracy (%)", "duration (s)", "date"} <= set(table.columns)
    failed = table[table["run"] == "broken"].iloc[0]
    assert "✗" in failed["status"] and "backbone not found" in failed["error"]
    assert "photos → sketches" in set(table["pair"])
    chooser = widget(at.multiselect, "Runs to compare (completed runs in the filtered table)")
    assert set(chooser.value) == {ids["a"], ids["b"], ids["c"]}   # latest completed, failed excluded
    assert len(at.get("plotly_chart")) == 0                         # only the open tab (the table) runs
    open_tab(at, "Metrics")
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 4     # metric bars, confusion matrices, per-class F1, training curves
    assert any(e.proto.spec and "Accuracy and macro F1" in e.proto.spec for e in charts)


def test_filters_narrow_the_table(runs):
    at = page()
    widget(at.multiselect, "Status").set_value(["failed"]).run()
    assert list(at.dataframe[0].value["run"]) == ["broken"]
    assert any("Select one or more" in i.value for i in at.info)   # no completed run left to compare
    widget(at.multiselect, "Status").set_value([]).run()
    at.text_input[0].input("paintings").run()
    assert list(at.dataframe[0].value["run"]) == ["=cmd|calc"]


def test_delete_needs_confirmation(runs):
    store, ids = runs
    at = page()
    at.multiselect(key="tl_compare_delete").set_value([ids["b"]]).run()
    delete = next(b for b in at.button if b.label == "Delete")
    assert delete.disabled     # no click possible before the confirmation box is ticked
    at.run()
    assert ids["b"] in {r.run_id for r in store.list()}
    at.checkbox(key="tl_compare_confirm").check().run()
    next(b for b in at.button if b.label == "Delete").click().run()
    assert not at.exception
    assert ids["b"] not in {r.run_id for r in store.list()}
    assert not store.folder(ids["b"]).exists()
    assert any("Deleted 1 run" in s.value for s in at.success)
    assert len(at.dataframe[0].value) == 3


def test_csv_export_escapes_formulas(runs):
    from ui.run_table import runs_frame, to_csv_bytes

    store, _ = runs
    df = pd.read_csv(io.BytesIO(to_csv_bytes(runs_frame(store.list()))))
    assert "'=cmd|calc" in set(df["run"]) and "=cmd|calc" not in set(df["run"])
    assert len(df) == 4 and "run_id" in df.columns


def test_chart_builders_label_axes_and_normalise_rows():
    from ui import charts

    fig = charts.confusion_heatmaps([{"label": "r", "matrix": [[3, 1], [0, 4]], "classes": ["x", "y"]}],
                                    normalize=True)
    z = fig.data[0].z
    assert [round(sum(row)) for row in z] == [100, 100]
    assert fig.layout.xaxis.title.text == "Predicted class" and fig.layout.yaxis.title.text == "True class"
    bars = charts.metric_bars([{"label": "r", "target_acc": 0.5, "source_acc": 0.9}])
    assert bars.layout.yaxis.title.text == "Score (%)" and bars.layout.title.text
    assert list(bars.data[0].y) == [50.0]
    curves = charts.training_curves([{"label": "r", "history": [{"epoch": 1, "val_acc": 0.5, "loss": 1.0}]}])
    assert curves.layout.xaxis.title.text == "Epoch" and "%" in curves.layout.yaxis.title.text
