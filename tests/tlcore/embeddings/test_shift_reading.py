"""The shift report's reading: small / moderate / large on a stated scale, and what it suggests (issue 16, item 6)."""
from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tlcore.embeddings import shift
from tlcore.embeddings.shift import read_shift

ROOT = Path(__file__).resolve().parents[3]


def test_levels_on_the_pad_scale():
    assert read_shift({"a_distance": 0.4})["level"] == "small"
    assert read_shift({"a_distance": 1.2})["level"] == "moderate"
    large = read_shift({"a_distance": 1.99, "centroid": 1.4})
    assert large["level"] == "large" and "MCC" in large["suggestion"] and "source-only" in large["suggestion"]
    assert "0-2 scale" in large["scale"] and "1.99 of 2" in large["text"] and "poorly" in large["text"]
    assert read_shift({"mmd": 0.1}) is None
    same = read_shift({"a_distance": -1.27, "centroid": 0.0})   # one domain against itself: noise below 0
    assert same["level"] == "small" and "0.00 of 2 (a classifier cannot tell the domains apart)" in same["text"]


def test_domains_page_shows_the_reading(tl_home, monkeypatch):
    monkeypatch.setenv("TL_NO_AUTOWORKER", "1")
    src = tgt = {"demo": "digits"}
    path = shift.report_path(tl_home, src, tgt)
    path.parent.mkdir(parents=True, exist_ok=True)
    gap = {"mmd": 0.31, "a_distance": 1.9, "coral": 0.002, "centroid": 0.5, "n_source": 500, "n_target": 500}
    path.write_text(json.dumps({"status": "done", "gap": gap, "backbone": "efficientnet_lite0", "seconds": 9.5,
                                "classes_shared": 10}))
    at = AppTest.from_file(str(ROOT / "views" / "domains.py"), default_timeout=60).run()
    assert not at.exception
    plain = [m.value.replace("\\", "") for m in at.markdown]  # the page escapes Markdown characters
    assert any(p.startswith("**Large shift: proxy A-distance 1.90 of 2") for p in plain)
    assert any("Expect source-only accuracy to drop" in t.value for t in at.text)
    assert any(c.value.replace("\\", "").startswith("Scale: proxy A-distance") for c in at.caption)
