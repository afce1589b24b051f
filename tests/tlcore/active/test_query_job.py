"""The ``query`` job kind and the Label page: a tiny run's pool is queried by a worker (the dashboard loads no
model), the page shows the picks with class pickers, saves a label set owned by the user and queues a training job
with it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from tlcore.__main__ import main
from tlcore.active.jobs import read_result
from tlcore.data.label_sets import LabelSets
from tlcore.errors import ConfigError
from tlcore.jobs.queue import JobQueue

from tests.conftest import ROOT

TRAIN = ["train", "--demo", "digits", "--quiet", "--set", "backbone=tiny_cnn", "--set", "epochs=1",
         "--set", "max_samples_per_domain=100", "--set", "strategy=fine_tuning"]


@pytest.fixture(scope="module")
def queried(tmp_path_factory):
    root = tmp_path_factory.mktemp("query_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TL_HOME", str(root))
    mp.setenv("TL_USER", "ana")
    assert main(TRAIN) == 0
    run_id = sorted(p.name for p in (root / "runs").iterdir())[-1]
    job = JobQueue().submit({"run_id": run_id, "method": "entropy", "budget": 4}, kind="query", owner="ana")
    env = {**os.environ, "TL_MAX_JOBS": "1"}
    w = subprocess.run([sys.executable, "-m", "tlcore", "worker", "--once"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert w.returncode == 0, w.stderr
    yield root, run_id, job
    mp.undo()


def test_the_query_job_writes_the_picks_with_thumbnails(queried):
    root, run_id, job = queried
    snap = JobQueue().get(job)
    assert snap.status == "completed" and snap.owner == "ana" and snap.kind == "query"
    out = read_result(root, job)
    assert out["run_id"] == run_id and out["method"] == "entropy" and len(out["samples"]) == 4
    assert all(s["thumbnail"] and s["predicted"] in out["classes"] for s in out["samples"])
    split = json.loads((root / "runs" / run_id / "split.json").read_text())
    assert out["pool_size"] == len(split["target_train"])


def test_query_jobs_are_checked_at_submit(queried):
    _, run_id, _ = queried
    for bad, msg in (({"run_id": run_id, "method": "nope", "budget": 3}, "method"),
                     ({"run_id": run_id, "budget": 0}, "budget"), ({"budget": 3}, "run_id")):
        with pytest.raises(ConfigError, match=msg):
            JobQueue().submit(bad, kind="query")


def test_label_page_saves_an_owned_label_set_and_queues_training(queried):
    root, run_id, job = queried
    at = AppTest.from_file(str(ROOT / "views" / "label.py"), default_timeout=60)
    at.session_state["tl_label_query_job"] = job
    at.run()
    assert not at.exception
    pickers = [s for s in at.selectbox if s.key and s.key.startswith("tl_label_") and s.key[9:].isdigit()]
    assert len(pickers) == 4
    pickers[0].set_value(pickers[0].options[-1] if pickers[0].value != pickers[0].options[-1]
                         else pickers[0].options[0])
    at.button[-1].click()  # the form's "Save label set" (form buttons come last in the tree)
    at.run()
    assert not at.exception
    sets = LabelSets(root).list("demo:digits")
    assert len(sets) == 1 and sets[0]["owner"] == "ana" and sets[0]["n"] == 4
    saved = LabelSets(root).get(sets[0]["id"])
    assert dict(map(tuple, saved["labels"]))[read_result(root, job)["samples"][0]["id"]] == pickers[0].value
    at.button(key="tl_label_train").click().run()
    assert not at.exception
    train = JobQueue().get(at.session_state["tl_label_train_job"])
    assert train.config["target"]["label_set"] == sets[0]["id"] and train.kind == "train"
