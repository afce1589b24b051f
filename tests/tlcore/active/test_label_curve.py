"""``python -m tlcore label-curve`` on a tiny pair: every point is a run trained with a label set of exactly its
budget, active chains extend their own sets, random takes prefixes of one seeded order; the target answers."""
from __future__ import annotations

import json

from tlcore.__main__ import main
from tlcore.data.label_sets import LabelSets
from tlcore.recommend import resolve_auto


def test_label_curve_trains_one_run_per_budget_with_nested_label_sets(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TL_HOME", str(tmp_path))
    argv = ["label-curve", "--demo", "digits", "--set", "backbone=tiny_cnn", "--set", "epochs=1",
            "--set", "max_samples_per_domain=100", "--set", "strategy=multitask", "--budgets", "3,6",
            "--methods", "random,margin", "--seeds", "0"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = out["rows"]
    assert [(r["method"], r["labels"]) for r in rows] == [("random", 0), ("random", 3), ("random", 6),
                                                          ("margin", 0), ("margin", 3), ("margin", 6)]
    assert rows[0]["run_id"] == rows[3]["run_id"]  # one base run without labels per seed
    sets = LabelSets(tmp_path)
    for method in ("random", "margin"):
        three, six = [r for r in rows if r["method"] == method and r["labels"]]
        small, big = sets.get(three["label_set"]), sets.get(six["label_set"])
        assert big["base"] == small["id"] and len(small["labels"]) == 3 and len(big["labels"]) == 6
        assert {i for i, _ in small["labels"]} <= {i for i, _ in big["labels"]}
        for row, n in ((three, 3), (six, 6)):
            split = json.loads((tmp_path / "runs" / row["run_id"] / "split.json").read_text())
            assert len(split["target_labeled"]) == n  # exactly the set's samples are labelled
            cfg = json.loads((tmp_path / "runs" / row["run_id"] / "config.json").read_text())
            assert cfg["target"]["label_set"] == row["label_set"]
    assert {(s["method"], s["labels"]) for s in out["summary"]} == {(r["method"], r["labels"]) for r in rows}
    assert all(0.0 <= s["accuracy"] <= 1.0 and s["seeds"] == 1 for s in out["summary"])


def test_auto_with_a_label_set_uses_the_few_labels_default():
    raw = {"source": {"demo": "digits"}, "target": {"demo": "digits", "label_set": "ls-0123abcd"}}
    assert resolve_auto(raw, gpu=False)["strategy"] == "multitask"
    assert resolve_auto({**raw, "target": {"demo": "digits"}}, gpu=False)["strategy"] != "multitask"


def test_the_label_curve_job_kind_trains_the_curve_in_a_worker(tmp_path, monkeypatch):
    """The Compare page's way: a ``label_curve`` job from a finished run, run by a worker; the result file holds
    the rows and summary, and the curve's runs are owned by the job's owner."""
    import os
    import subprocess
    import sys

    import pytest

    from tests.conftest import ROOT
    from tlcore.errors import ConfigError
    from tlcore.jobs.queue import JobQueue
    from tlcore.label_curve import read_curve
    from tlcore.runs.store import RunStore

    monkeypatch.setenv("TL_HOME", str(tmp_path))
    monkeypatch.setenv("TL_USER", "ana")
    assert main(["train", "--demo", "digits", "--quiet", "--set", "backbone=tiny_cnn", "--set", "epochs=1",
                 "--set", "max_samples_per_domain=100", "--set", "strategy=fine_tuning"]) == 0
    base = RunStore(tmp_path).list()[0].run_id
    queue = JobQueue()
    for bad, msg in (({"run_id": base, "budgets": [0]}, "budgets"), ({"run_id": base, "methods": ["nope"]},
                                                                      "methods"), ({}, "run_id")):
        with pytest.raises(ConfigError, match=msg):
            queue.submit(bad, kind="label_curve")
    job = queue.submit({"run_id": base, "budgets": [3], "methods": ["random", "margin"], "seeds": [0]},
                       kind="label_curve", owner="bob")
    w = subprocess.run([sys.executable, "-m", "tlcore", "worker", "--once"], cwd=ROOT, capture_output=True,
                       text=True, timeout=600, env={**os.environ, "TL_MAX_JOBS": "1"})
    assert w.returncode == 0, w.stderr
    snap = queue.get(job)
    assert snap.status == "completed", snap.error
    out = read_curve(tmp_path, job)
    assert [(r["method"], r["labels"]) for r in out["rows"]] == [("random", 0), ("random", 3), ("margin", 0),
                                                                 ("margin", 3)]
    assert out["run_id"] == base and out["budgets"] == [3] and out["pair"]
    assert {(s["method"], s["labels"]) for s in out["summary"]} == {("random", 0), ("random", 3), ("margin", 0),
                                                                    ("margin", 3)}
    store = RunStore(tmp_path)
    curve_runs = {r["run_id"] for r in out["rows"]}
    assert len(curve_runs) == 3 and all(store.get(r).owner == "bob" for r in curve_runs)
