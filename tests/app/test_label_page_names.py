"""Issue 27: the Label page never shows a sample's id. An image's id is its archive path, which names its class
folder (``bike/frame_0001.jpg``); the page shows "Sample i of K" and the neutral name instead, and the saved label
set still holds the real ids."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
from apptest_paths import ROOT
from PIL import Image
from streamlit.testing.v1 import AppTest

from fake_runs import make_run
from tlcore.data.label_sets import LabelSets, sample_name
from tlcore.jobs.queue import JobQueue
from tlcore.job_context import job_folder
from tlcore.runs.store import RunStore

TEXT_KINDS = ("title", "header", "subheader", "markdown", "text", "caption", "code", "success", "info", "warning",
              "error", "exception", "json", "metric")


def _png() -> str:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _finished_query(home, samples, classes, modality="image") -> str:
    store = RunStore(home)
    run_id = make_run(store, name="base")
    queue = JobQueue(store)
    job = queue.submit({"run_id": run_id, "method": "entropy", "budget": len(samples)}, kind="query", owner="ana")
    queue.update(job, status="running")
    queue.finish(job, "completed")
    folder = job_folder(home, job)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({
        "run_id": run_id, "method": "entropy", "target": {"path": str(home / "target")}, "pool_size": 50,
        "modality": modality, "classes": classes, "samples": samples}))
    return job


def _rendered_text(at) -> str:
    parts = []
    for kind in TEXT_KINDS:
        parts += [str(getattr(e, "value", "")) + str(getattr(e, "label", "")) for e in getattr(at, kind)]
    parts += [f"{s.label} {s.value}" for s in at.selectbox]
    parts += [b.label for b in at.button]
    return "\n".join(parts)


def test_the_label_page_shows_neutral_names_never_the_class_folder(tl_home, monkeypatch):
    monkeypatch.setenv("TL_USER", "ana")
    ids = ["bike/frame_0001.jpg", "car/frame_0002.jpg", "bike/frame_0003.jpg"]
    # the model guesses "cup" for every sample, so "bike" or "car" could only reach the page through an id
    samples = [{"id": i, "name": sample_name(i), "path_or_text": i, "predicted": "cup", "score": 0.5,
                "thumbnail": _png()} for i in ids]
    job = _finished_query(tl_home, samples, ["bike", "car", "cup"])
    at = AppTest.from_file(str(ROOT / "views" / "label.py"), default_timeout=60)
    at.session_state["tl_label_query_job"] = job
    at.run()
    assert not at.exception
    shown = _rendered_text(at)
    for i in ids:
        assert sample_name(i) in shown  # the neutral name is shown ...
    assert "Sample 1 of 3" in shown and "Sample 3 of 3" in shown
    assert "frame_" not in shown and "bike" not in shown and "car" not in shown  # ... never the path or its class
    pickers = [s for s in at.selectbox if s.key and s.key.startswith("tl_label_") and s.key[9:].isdigit()]
    assert len(pickers) == 3 and pickers[0].options == ["bike", "car", "cup"]  # classes only as the choices
    pickers[0].set_value("bike")
    at.button[-1].click()  # Save label set
    at.run()
    assert not at.exception
    saved = LabelSets(tl_home).list()
    assert len(saved) == 1 and saved[0]["owner"] == "ana"
    labels = dict(map(tuple, LabelSets(tl_home).get(saved[0]["id"])["labels"]))
    assert labels == {ids[0]: "bike", ids[1]: "cup", ids[2]: "cup"}  # the engine keeps the real ids
    assert "frame_" not in "\n".join(str(e.value) for e in at.success)


def test_an_image_without_a_thumbnail_shows_no_path(tl_home, monkeypatch):
    monkeypatch.setenv("TL_USER", "ana")
    samples = [{"id": "bike/frame_0009.jpg", "name": sample_name("bike/frame_0009.jpg"),
                "path_or_text": "bike/frame_0009.jpg", "predicted": "cup", "score": 0.1}]
    at = AppTest.from_file(str(ROOT / "views" / "label.py"), default_timeout=60)
    at.session_state["tl_label_query_job"] = _finished_query(tl_home, samples, ["bike", "cup"])
    at.run()
    assert not at.exception
    shown = _rendered_text(at)
    assert "frame_" not in shown and "bike" not in shown and sample_name("bike/frame_0009.jpg") in shown
