"""A damaged tl.db: every page says which file and how to recover, instead of a generic error (issue 15 #4)."""
from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from tlcore.runs.store import RunStore

from apptest_paths import APP, TIMEOUT


def test_damaged_database_shows_the_file_and_the_doctor_command_on_every_page(tl_home):
    store = RunStore(tl_home)
    for i in range(4):
        store.create({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "seed": i, "name": "x" * 2000})
    with open(store.db_path, "r+b") as fh:  # 8 KB overwritten at offset 4096, as in the issue
        fh.seek(4096)
        fh.write(os.urandom(8192))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(e.value for e in at.error)
    assert "tl.db" in text.replace("\\", "") and "doctor" in text
    assert not at.dataframe
