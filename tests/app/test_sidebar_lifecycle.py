"""The sidebar says whether the worker runs, its pid and uptime, and that it outlives the dashboard (item 7)."""
from __future__ import annotations

from apptest_paths import APP, TIMEOUT
from streamlit.testing.v1 import AppTest

from ui.sidebar import WORKER_LIFECYCLE, worker_line


def test_worker_line():
    assert worker_line(False, []).startswith("Worker: not running")
    line = worker_line(True, [{"pid": 4242, "started": 1000.0}], now=1000.0 + 3 * 3600 + 65)
    assert line == "Worker: running (pid 4242, up 3 h 01 min)"


def test_sidebar_shows_the_lifecycle(tl_home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any(t.value.startswith("Worker: not running") for t in at.sidebar.text)   # TL_NO_AUTOWORKER in tests
    assert any(c.value == WORKER_LIFECYCLE for c in at.sidebar.caption)
