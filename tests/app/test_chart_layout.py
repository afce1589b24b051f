"""Chart layout fixes (issue 16, item 4): legends clear of titles, axis titles not clipped, integer histograms,
one heading per thing, no empty table rows, the "Add a domain" panel stays open while it is filled."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from apptest_paths import TIMEOUT, page
from streamlit.testing.v1 import AppTest

from ui import charts

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def test_training_curves_legend_is_below_the_subplot_titles():
    fig = charts.training_curves([{"label": f"run {i}", "history": [{"epoch": e, "val_acc": 0.5, "loss": 1.0}
                                                                      for e in range(1, 4)]} for i in range(6)])
    assert fig.layout.legend.y < 0 and fig.layout.legend.yanchor == "top"
    assert fig.layout.margin.b >= 120


def test_roc_legend_has_one_entry_per_run():
    roc = {str(c): {"fpr": [0, 0.5, 1], "tpr": [0, 0.7, 1]} for c in range(10)}
    pr = {str(c): {"recall": [0, 1], "precision": [1, 0.5]} for c in range(10)}
    fig = charts.roc_pr_curves([{"label": "a", "roc": roc, "pr": pr}, {"label": "b", "roc": roc, "pr": pr}])
    shown = [t.name for t in fig.data if t.showlegend is not False]
    assert shown == ["a", "b", "chance"] and fig.layout.legend.y < 0


def test_confusion_matrix_axis_titles_get_their_room():
    m = np.eye(10, dtype=int).tolist()
    fig = charts.confusion_heatmaps([{"label": "a", "matrix": m, "classes": [str(i) for i in range(10)]}])
    assert fig.layout.yaxis.automargin is True and fig.layout.margin.l >= 80
    assert fig.layout.yaxis.title.text == "True class"


def test_equal_image_sizes_are_one_bar_not_fractional_ticks():
    from ui.charts import value_distribution as histogram

    fig = histogram({"source": [32] * 50, "target": [32] * 40}, "Image size", "pixels")
    assert [t.type for t in fig.data] == ["bar", "bar"] and list(fig.data[0].x) == ["32"]
    wide = histogram({"source": list(range(10, 400)), "target": list(range(20, 300))}, "Text length", "words")
    assert wide.data[0].type == "histogram" and float(wide.data[0].xbins.size).is_integer()


def test_domains_headings_and_add_panel(tl_home):
    at = AppTest.from_file(page("domains"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not any("Samples per class" in m.value for m in at.markdown)      # the chart has that title
    from tlcore.data.library import DomainLibrary
    import io

    csv = b"text,label\n" + b"".join(b"nice %d,pos\nbad %d,neg\n" % (i, i) for i in range(5))
    DomainLibrary(tl_home).ingest_upload("first", "a.csv", io.BytesIO(csv))
    at.run()
    assert not at.expander[0].proto.expanded                                 # a domain exists: closed
    at.text_input(key="add-name").set_value("second").run()                  # typing the next name
    assert at.expander[0].label == "Add a domain" and at.expander[0].proto.expanded


def test_table_height_has_no_filler_rows():
    from ui.charts import table_height

    assert table_height(1) == 38 + 35 + 2 and table_height(3) < 200 and table_height(10_000, cap=200) == 200
