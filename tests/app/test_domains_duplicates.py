"""Reliability catalogue item 32 in the dashboard: the Domains page warns about identical samples inside a domain
and across the chosen pair; Compare shows a run's recorded ``duplicate_leakage`` flag. User text stays literal."""
from __future__ import annotations

import io
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tlcore.data.library import DomainLibrary
from tlcore.runs.store import RunStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apptest_paths import TIMEOUT, open_tab, page  # noqa: E402
from fake_runs import make_run  # noqa: E402


def test_item_32_domains_page_warns_about_label_conflicts_and_a_shared_pair(tl_home):
    lib = DomainLibrary(tl_home)
    rows = b"".join(b"nice thing %d,pos\nbad thing %d,neg\n" % (i, i) for i in range(10))
    lib.ingest_upload("books", "books.csv", io.BytesIO(b"text,label\n" + rows + b"Nice  THING 0,neg\n"))
    at = AppTest.from_file(page("domains"), default_timeout=TIMEOUT).run()
    at.radio(key="dom-kind-source").set_value("Saved domain").run()
    at.radio(key="dom-kind-target").set_value("Saved domain").run()  # the same domain on both sides
    assert not at.exception, [e.value for e in at.exception]
    said = [w.value.replace("\\", "") for w in at.warning]
    conflicts = [w for w in said if "carry different labels" in w]
    assert len(conflicts) == 2 and "row 1 (pos) = row 21 (neg)" in conflicts[0]  # in both columns
    assert any("21 target sample(s) (100.0% of the target) are identical to source samples" in w for w in said)


def test_item_32_compare_shows_a_recorded_duplicate_leakage_flag(tl_home):
    store = RunStore(tl_home)
    rid = make_run(store, name="leaky")
    flag = {"kind": "duplicate_leakage", "shared": 3, "leaked": 2, "examples": ["![x](http://h/x.png)"],
            "message": "duplicates across the pair: 3 target sample(s) are identical to source samples "
                       "(e.g. target ![x](http://h/x.png))"}
    store.write_json(rid, "metrics.json", {**store.metrics(rid), "flags": [flag]})
    at = open_tab(AppTest.from_file(page("compare"), default_timeout=TIMEOUT).run(), "Metrics")  # flags: metrics tab
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning if "duplicates across the pair" in w.value.replace("\\", "")]
    assert len(warnings) == 1 and "\\!\\[x\\]" in warnings[0]  # the file name is shown literally, not rendered
