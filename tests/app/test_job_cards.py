"""Finished job cards say what happened; a finished "Run all strategies" batch is summarised (issue 16, item 3)."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

from apptest_paths import TIMEOUT
from streamlit.testing.v1 import AppTest

from tlcore.evaluation.summary import batch_summary, format_p, run_outcome
from tlcore.jobs.queue import JobQueue
from tlcore.runs.store import RunStore
from ui.jobs_panel import progress_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_runs import make_run  # noqa: E402

SCRIPT = """
import streamlit as st
from ui.jobs_panel import jobs_panel
jobs_panel(batch=st.session_state.get("batch"))
"""


def finished_job(queue: JobQueue, run_id: str, seconds: float = 75.0) -> str:
    job = queue.submit({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn"})
    now = time.time()
    queue.update(job, status="running", started=now - seconds, run_id=run_id)
    queue.finish(job, "completed")
    queue.update(job, finished=now)
    return job


def test_completed_card_says_accuracy_interval_time_and_links_to_compare(tl_home):
    store = RunStore(tl_home)
    rid = make_run(store, name="probe")
    finished_job(JobQueue(store), rid)
    at = AppTest.from_string(SCRIPT, default_timeout=TIMEOUT).run()
    assert not at.exception
    line = next(t.value for t in at.text if t.value.startswith("Target accuracy"))
    acc = store.metrics(rid)["target_test"]["accuracy"]
    assert f"{100 * acc:.1f}%" in line and "95% CI" in line and "in 1 min 15 s" in line
    assert any(rid in c.value.replace("\\", "") and "Compare" in c.value for c in at.caption)  # no navigation: the id


def test_unlabeled_target_card_says_so():
    m = {"target_test": {"n": 40, "unlabeled": True}, "source_val": {"accuracy": 0.91},
         "target_unsupervised": {"scores": {"im": 0.42, "snd": 1.5}}}
    text = run_outcome(m, 5)["text"]
    assert text.startswith("Unlabeled target") and "91.0%" in text and "im 0.42" in text and "in 5 s" in text


def test_caching_phase_moves_the_progress_bar():
    snap = SimpleNamespace(status="running", cancel_requested=False,
                           progress={"type": "phase", "phase": "caching frozen features", "progress": 0.4,
                                     "detail": "source_train: 800/2000 samples"})
    frac, text = progress_text(snap)
    assert frac == 0.4 and "800/2000" in text


def test_batch_summary_names_winner_gain_and_paired_test(tl_home):
    store = RunStore(tl_home)
    base = make_run(store, name="fine_tuning", strategy="fine_tuning", seed=0, n=200, truth_seed=7)
    best = make_run(store, name="mcc", strategy="mcc", seed=3, n=200, truth_seed=7)
    other = make_run(store, name="dann", strategy="dann", seed=1, n=200, truth_seed=7)
    failed = make_run(store, name="cdan", strategy="cdan", status="failed")
    s = batch_summary(store, [base, best, other, failed], n_resamples=200)
    assert s["winner"]["run_id"] == best and s["baseline"]["run_id"] == base and s["gain"] > 0
    assert s["paired"]["n"] == 200 and 0 <= s["paired"]["mcnemar_p"] <= 1
    assert "Best: mcc" in s["text"] and "over source-only" in s["text"] and "McNemar p" in s["text"]
    assert s["failed"] == [failed] and "1 run(s) did not complete" in s["text"]


def test_batch_summary_on_a_tie_says_nothing_beat_source_only(tl_home):
    store = RunStore(tl_home)
    base = make_run(store, name="fine_tuning", strategy="fine_tuning", seed=0, n=60, truth_seed=7)
    same = make_run(store, name="linear_probe", strategy="linear_probe", seed=0, n=60, truth_seed=7)
    s = batch_summary(store, [same, base], n_resamples=50)
    assert s["winner"]["run_id"] == base and s["gain"] is None
    assert s["text"].startswith("No strategy beat source-only (fine_tuning")
    s = batch_summary(store, [same, base, make_run(store, name="x", strategy="cdan", status="failed")], n_resamples=50)
    assert s["text"].startswith("No strategy beat") and "1 run(s) did not complete" in s["text"]


def test_batch_panel_waits_then_summarises(tl_home):
    store = RunStore(tl_home)
    queue = JobQueue(store)
    a = finished_job(queue, make_run(store, name="fine_tuning", strategy="fine_tuning", n=100, truth_seed=1))
    b = queue.submit({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn",
                      "strategy": "mcc"})
    at = AppTest.from_string(SCRIPT, default_timeout=TIMEOUT)
    at.session_state["batch"] = [a, b]
    at.run()
    assert any("1 finished, 1 to go" in t.value for t in at.text)
    queue.update(b, status="running", started=time.time(), run_id=make_run(store, name="mcc", strategy="mcc",
                                                                          seed=2, n=100, truth_seed=1))
    queue.finish(b, "completed")
    at.run()
    assert not at.exception
    assert any(t.value.startswith("Best: ") for t in at.text)


def test_tiny_p_values_are_not_zero():
    assert format_p(4.8e-318) == "< 1e-300" and format_p(0.0) == "< 1e-300" and format_p(0.0312) == "0.0312"


def test_train_page_lists_run_jobs_only_light_jobs_show_on_their_own_pages(tl_home):
    """A shift report or embeddings job is not a training job: the Train page's cards leave it out."""
    from apptest_paths import page

    q = JobQueue(RunStore(tl_home))
    q.submit({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "cap": 40,
              "seed": 0}, kind="shift")
    train = q.submit({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn",
                      "epochs": 1})
    assert {j.kind for j in q.list()} == {"shift", "train"}
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    assert not at.exception
    cards = [t.value for t in at.text if " · job-" in t.value]
    assert len(cards) == 1 and train in cards[0] and "shift report" not in cards[0]
