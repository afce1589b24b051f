"""Compare ranks runs by an unsupervised validator and shows the validator table; Train shows the backbone
ranking stored by its rank job and queues that job (AppTest, fake runs, no training)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tlcore.evaluation.validators import DEFAULT, VALIDATORS
from tlcore.runs.store import RunStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apptest_paths import TIMEOUT, open_tab, page  # noqa: E402
from fake_runs import make_run  # noqa: E402


def _scored_runs(home, labeled=True):
    store = RunStore(home)
    ids = []
    for i, (im, name) in enumerate(((0.2, "low"), (0.9, "![x](http://evil/x.png)"), (0.5, "mid"))):
        rid = make_run(store, name=name, seed=i)
        m = store.metrics(rid)
        scores = {v: im for v in VALIDATORS}  # every validator agrees, except entropy (reversed) and snd (none)
        m["target_unsupervised"] = {"scores": {**scores, "entropy": -im, "snd": None}, "n_target": 40}
        if not labeled:
            m["target_test"] = {"n": 40, "unlabeled": True}
        store.write_json(rid, "metrics.json", m)
        ids.append(rid)
    return store, ids


def test_compare_recommends_by_validator_and_scores_the_validators(tl_home):
    store, ids = _scored_runs(tl_home)
    at = open_tab(AppTest.from_file(page("compare"), default_timeout=TIMEOUT).run(), "Choose without labels")
    assert not at.exception, [e.value for e in at.exception]
    default = DEFAULT if DEFAULT not in ("entropy", "snd") else "im"
    if default != DEFAULT:
        at.selectbox(key="tl_validator").set_value(default).run()
    rec = [s.value for s in at.success if f"Recommended by {default}" in s.value]
    assert rec and "evil" in rec[0] and "](http" not in rec[0]  # the hostile run name is escaped, not a link
    ranking = next(d.value for d in at.dataframe if "recommended" in d.value.columns)
    assert list(ranking[default]) == [0.9, 0.5, 0.2] and ranking["recommended"].iloc[0] == "★"
    table = next(d.value for d in at.dataframe if "Spearman" in d.value.columns)
    row = table[table["validator"].str.contains(r"\(im\)")].iloc[0]
    assert row["runs"] == 3 and row["regret (points)"] >= 0
    assert table[table["validator"].str.contains(r"\(snd\)")].iloc[0]["runs"] == 0


def test_compare_without_target_labels_still_recommends(tl_home):
    _scored_runs(tl_home, labeled=False)
    at = open_tab(AppTest.from_file(page("compare"), default_timeout=TIMEOUT).run(), "Choose without labels")
    assert not at.exception, [e.value for e in at.exception]
    assert any("Recommended by" in s.value for s in at.success)
    assert not any("Spearman" in d.value.columns for d in at.dataframe)  # no labels: no validator table
    at.selectbox(key="tl_validator").set_value("entropy").run()
    ranking = next(d.value for d in at.dataframe if "recommended" in d.value.columns)
    assert list(ranking["entropy"]) == [-0.2, -0.5, -0.9]


def test_train_shows_the_stored_backbone_ranking(tl_home):
    from tlcore.transferability.ranking import ranking_path

    p = ranking_path(tl_home, {"demo": "digits"})
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"status": "done", "n": 500, "classes": 10, "seconds": 3.0, "rows": [
        {"backbone": "efficientnet_lite0", "title": "x", "dim": 1280, "pretrained": True, "logme": 0.3,
         "nleep": -1.1, "seconds": 2.0, "nleep_rank": 1, "rank": 1}],
        "skipped": [{"backbone": "resnet18", "reason": "weights not cached"}]}))
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    at.selectbox(key="strategy-image").set_value("linear_probe").run()  # a chosen backbone (not auto's own)
    assert not at.exception, [e.value for e in at.exception]
    tables = [d.value for d in at.dataframe]
    assert any("LogME" in t.columns and t["backbone"].iloc[0] == "efficientnet_lite0" for t in tables)
    assert any("reason" in t.columns for t in tables)


def test_train_rank_backbones_queues_a_rank_job_that_cancel_settles(tl_home):
    """Issue 24 item 1: the button queues a ``rank`` job of the one queue (no process of the dashboard); the page
    shows it waiting for a worker slot; cancelled, the page says so and offers the button again."""
    from tlcore.jobs.queue import JobQueue

    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    at.selectbox(key="strategy-image").set_value("linear_probe").run()  # a chosen backbone (not auto's own)
    at.button(key="tl_rank_backbones").click().run()
    assert not at.exception, [e.value for e in at.exception]
    q = JobQueue(RunStore(tl_home))
    (job,) = q.list(kinds=("rank",))
    assert job.status == "queued" and job.config["source"] == {"demo": "digits"}
    texts = [getattr(p.proto, "text", "") for p in at.get("progress")]
    assert any("waiting for a free worker slot" in t for t in texts), texts
    assert q.cancel(job.job_id) == "cancelled"
    at.run()
    assert any("cancelled" in i.value for i in at.info)
    assert at.button(key="tl_rank_backbones").label == "Rank backbones"
