"""AppTest: every page renders; Domains shows the pair; Train queues jobs once; the jobs panel shows failures."""
from __future__ import annotations

import io

from streamlit.testing.v1 import AppTest

from tlcore.data.library import DomainLibrary
from tlcore.jobs.queue import JobQueue
from tlcore.runs.store import RunStore
from tlcore.strategies import STRATEGIES
from ui import state

from apptest_paths import APP, TIMEOUT, open_page, page


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def _charts(at) -> list[str]:
    return [c.proto.spec for c in at.get("plotly_chart")]


def _parameter_caption(at, timeout: float = 90.0) -> str:
    """The "Trainable parameters" caption once the engine's background count has arrived."""
    import time

    deadline = time.time() + timeout
    while True:
        text = next(c.value for c in at.caption if c.value.startswith("Trainable parameters"))
        if "counting" not in text or time.time() > deadline:
            return text
        time.sleep(0.5)
        at.run()


def _queue(home) -> JobQueue:
    return JobQueue(RunStore(home))


def test_app_renders_every_page(tl_home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _no_exception(at)
    assert at.title[0].value == "Domains"
    assert any("Job queue" in c.value for c in at.sidebar.caption)
    assert any(t.value.startswith(("CPU", "NVIDIA")) or "GB free" in t.value for t in at.sidebar.text)
    for url, title in (("train", "Train"), ("compare", None), ("embeddings", None)):
        open_page(at, url).run()
        _no_exception(at)
        if title:
            assert at.title[0].value == title
            assert {"Start run", "Run all strategies", "Show what transfer buys"} <= {b.label for b in at.button}


def test_show_what_transfer_buys_with_auto_queues_one_portfolio_job(tl_home):
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    _no_exception(at)
    assert at.selectbox(key="strategy-image").value == "auto"  # the default
    assert at.selectbox(key="backbone-image").disabled and at.number_input(key="epochs-image").disabled
    assert any("Runs 4 recipes" in c.value for c in at.caption)
    at.button(key="transfer-pair").click().run()
    _no_exception(at)
    jobs = _queue(tl_home).list()
    assert [j.config["strategy"] for j in jobs] == ["auto"]  # its recipes include each network's source-only twin
    assert set(jobs[0].config) <= {"source", "target", "strategy", "seed", "max_samples_per_domain"}


def test_show_what_transfer_buys_queues_the_pair(tl_home):
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    _no_exception(at)
    at.selectbox(key="strategy-image").set_value("mcc").run()
    at.button(key="transfer-pair").click().run()
    _no_exception(at)
    jobs = sorted(_queue(tl_home).list(), key=lambda j: j.config["strategy"])
    assert [j.config["strategy"] for j in jobs] == ["fine_tuning", "mcc"]
    src_only, adapted = (j.config for j in jobs)
    assert src_only["params"]["freeze_backbone"] is True and src_only["checkpoint"] == "best_val"
    for k in ("source", "seed", "image_size", "bottleneck", "epochs"):
        assert src_only[k] == adapted[k], k


def test_domains_demo_pair_shows_class_counts(tl_home):
    at = AppTest.from_file(page("domains"), default_timeout=TIMEOUT).run()
    _no_exception(at)
    specs = _charts(at)
    assert any("Class counts" in s for s in specs)
    assert any("Image size" in s for s in specs)
    assert at.session_state[state.SOURCE_SPEC] == {"demo": "digits"}
    assert at.session_state[state.TARGET_SPEC] == {"demo": "digits"}
    assert len(at.get("image")) == 20  # one row of samples per class and domain


def test_domains_saved_entry_can_be_selected(tl_home):
    lib = DomainLibrary(tl_home)
    csv = b"text,label\n" + b"".join(b"nice thing %d,pos\nbad thing %d,neg\n" % (i, i) for i in range(10))
    e = lib.ingest_upload("<b>books</b>", "books.csv", io.BytesIO(csv))
    at = AppTest.from_file(page("domains"), default_timeout=TIMEOUT).run()
    at.radio(key="dom-kind-source").set_value("Saved domain").run()
    at.radio(key="dom-kind-target").set_value("Saved domain").run()
    _no_exception(at)
    assert at.session_state[state.SOURCE_SPEC]["path"] == e["path"]
    assert at.session_state[state.TARGET_SPEC]["name"] == "<b>books</b>"
    assert any("Text length" in s for s in _charts(at))
    assert not at.error


def test_domains_rejects_bad_upload_name_clash(tl_home):
    lib = DomainLibrary(tl_home)
    lib.ingest_upload("books", "b.csv", io.BytesIO(b"text,label\na,x\nb,y\n"))
    at = AppTest.from_file(page("domains"), default_timeout=TIMEOUT).run()
    at.text_input(key="folder-name").set_value("books").run()
    at.text_input(key="folder-path").set_value("/etc").run()
    at.button(key="folder-save").click().run()
    _no_exception(at)
    assert any("already exists" in e.value or "outside the allowed" in e.value for e in at.error)
    assert len(lib.list()) == 1


def test_item_06_train_start_run_queues_once(tl_home):
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    _no_exception(at)
    assert any("Trainable parameters" in c.value for c in at.caption)
    at.button(key="start-run").click().run()
    _no_exception(at)
    jobs = _queue(tl_home).list()
    assert len(jobs) == 1
    # the recommended default: auto (resolved when the job starts: tlcore/portfolio.py)
    assert jobs[0].config["strategy"] == "auto"
    at.button(key="start-run").click().run()   # double click: identical settings already queued
    assert any("already queued or running" in i.value for i in at.info)
    at.run()                                   # plain rerun
    assert len(_queue(tl_home).list()) == 1
    fresh = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    fresh.button(key="start-run").click().run()  # another session (a reload): still no duplicate
    assert len(_queue(tl_home).list()) == 1
    at.checkbox(key="allow-repeat").check().run()
    at.button(key="start-run").click().run()   # explicitly allowed again
    assert len(_queue(tl_home).list()) == 2


def test_train_run_all_strategies(tl_home):
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    at.button(key="run-all").click().run()
    _no_exception(at)
    jobs = _queue(tl_home).list()
    queued = {j.config["strategy"] for j in jobs}
    assert {"linear_probe", "fine_tuning", "scratch"} <= queued
    not_applicable = set(STRATEGIES) - queued
    for name in not_applicable:  # e.g. strategies needing target labels when the labeled fraction is 0
        assert any(name in i.value.replace("\\", "") for i in at.info), name
    assert len({(j.config["seed"], j.config["source"]["demo"]) for j in jobs}) == 1


def test_train_bad_value_shows_error_and_queues_nothing(tl_home):
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    at.selectbox(key="strategy-image").set_value("mcc").run()
    at.text_input(key="lr-image").set_value("fast please").run()
    _no_exception(at)
    assert any("lr" in e.value for e in at.error)
    assert at.button(key="start-run").disabled and at.button(key="run-all").disabled
    assert _queue(tl_home).list() == []


JOBS_SCRIPT = """
from ui.jobs_panel import jobs_panel
jobs_panel()
"""


def test_jobs_panel_shows_failed_job_and_cancels(tl_home):
    q = _queue(tl_home)
    cfg = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn"}
    failed = q.submit(cfg, submit_key="a")
    q.update(failed, status="failed", error="loss became NaN at step 3 (try a lower learning rate)")
    with open(q.get(failed).log_path, "w") as fh:
        fh.write("Traceback...\nFloatingPointError: nan\n")
    waiting = q.submit({**cfg, "seed": 1}, submit_key="b")
    at = AppTest.from_string(JOBS_SCRIPT, default_timeout=TIMEOUT).run()
    _no_exception(at)
    assert any("loss became NaN at step 3" in e.value for e in at.error)
    assert any("FloatingPointError" in c.value for c in at.code)
    assert [b.key for b in at.button] == [f"cancel-{waiting}"]
    at.button(key=f"cancel-{waiting}").click().run()
    assert q.get(waiting).status == "cancelled"


def test_train_frozen_adaptation_with_a_bottleneck(tl_home, monkeypatch, job_worker):
    """DANN on cached features: the bottleneck and freeze_backbone reach the job; run-all passes the frozen
    choice to the strategies that have it; the trainable count (a ``count`` job the worker runs) drops to the new
    layers."""
    monkeypatch.setenv("TL_PARAM_COUNT", "1")
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    at.selectbox(key="strategy-image").set_value("dann").run()
    full = _parameter_caption(at)
    at.number_input(key="bottleneck").set_value(256).run()
    at.checkbox(key="params-image.dann.freeze_backbone").check().run()
    _no_exception(at)
    frozen = _parameter_caption(at)
    count = lambda text: int(text.split(":")[1].split(" of ")[0].replace(",", ""))  # noqa: E731
    assert count(frozen) < count(full) / 5
    counts = _queue(tl_home).list(kinds=("count",))
    assert len(counts) >= 2 and {j.status for j in counts} == {"completed"}  # one per choice counted
    at.button(key="run-all").click().run()
    _no_exception(at)
    jobs = {j.config["strategy"]: j.config for j in _queue(tl_home).list(kinds=("train",))}
    assert jobs["dann"]["bottleneck"] == 256 and jobs["dann"]["params"]["freeze_backbone"] is True
    # the sweep's rule: each strategy keeps the fields it shares with DANN's params, the rest default
    assert jobs["mmd"]["params"]["freeze_backbone"] is True and jobs["linear_probe"]["params"] == {}
    assert jobs["mmd"]["params"].items() <= jobs["dann"]["params"].items() and "disc_hidden" not in jobs["mmd"]["params"]
    assert "tradaboost" not in jobs


def test_train_augmented_feature_views_reach_the_job_and_need_a_frozen_backbone(tl_home):
    at = AppTest.from_file(page("train"), default_timeout=TIMEOUT).run()
    assert at.number_input(key="feature_views").value == 2  # the image default
    at.selectbox(key="strategy-image").set_value("dann").run()  # its backbone trains by default
    assert at.number_input(key="feature_views").disabled and not at.error  # views do not apply: no refusal
    at.button(key="start-run").click().run()
    _no_exception(at)
    (job,) = _queue(tl_home).list()
    assert not job.config.get("feature_views") and job.config["strategy"] == "dann"
    at.selectbox(key="strategy-image").set_value("linear_probe").run()
    assert not at.number_input(key="feature_views").disabled
    at.number_input(key="feature_views").set_value(3).run()
    assert not at.error
    at.button(key="start-run").click().run()
    _no_exception(at)
    job = next(j for j in _queue(tl_home).list() if j.config["strategy"] == "linear_probe")
    assert job.config["feature_views"] == 3


def test_item_85_a_new_session_sees_a_running_job_with_live_progress_from_the_database(tl_home):
    q = _queue(tl_home)
    job = q.submit({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn"},
                   submit_key="first-tab")
    q.update(job, status="running", progress={"type": "epoch", "epoch": 2, "epochs": 5, "progress": 0.4})
    sessions = [AppTest.from_string(JOBS_SCRIPT, default_timeout=TIMEOUT).run() for _ in range(2)]  # reload, 2nd tab
    for at in sessions:
        _no_exception(at)
        assert any(" running · " in t.value and t.value.endswith(job) for t in at.text), [t.value for t in at.text]
        assert [p.proto.text for p in at.get("progress")] == ["epoch 2/5"]
    q.update(job, progress={"type": "epoch", "epoch": 3, "epochs": 5, "progress": 0.6})  # the worker moves on
    at = sessions[0].run()
    assert [p.proto.text for p in at.get("progress")] == ["epoch 3/5"]
