"""The Embeddings page and the background job it queues, run together with a real worker (no mock of the launch).

Issue 16: the page launched ``python -m tlcore embeddings ... --max-iter 500`` which the CLI rejected; the page
then said "Working in the background" forever and the dead child stayed a zombie. Issue 15: the page no longer
starts its own process; it queues an ``embeddings`` job (tlcore/jobs/tasks.py) that the worker runs.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tlcore.embeddings.extract import extraction_command
from tlcore.jobs.light import extraction_status, launch_extraction
from tlcore.jobs.queue import JobQueue
from tlcore.embeddings.project import PROJECTIONS, projection_cached, projection_params
from tlcore.runs.store import RunStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fake_runs import make_run  # noqa: E402
from test_embeddings_page import PAGE, add_before  # noqa: E402


def wait_finished(store, rid, timeout=90.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = extraction_status(store, rid) or {}
        if s.get("status") in ("done", "failed"):
            return s
        time.sleep(0.3)
    raise AssertionError(f"the background command did not finish: {extraction_status(store, rid)}")


def run_worker_once(store) -> None:
    env = {**os.environ, "TL_HOME": str(store.root)}
    w = subprocess.run([sys.executable, "-m", "tlcore", "worker", "--once"], cwd=str(HERE.parents[1]), env=env,
                       capture_output=True, text=True, timeout=300)
    assert w.returncode == 0, w.stderr


def test_compute_tsne_button_queues_a_job_the_worker_runs_to_completion(tl_home):
    store = RunStore(tl_home)
    rid = make_run(store)
    add_before(store, rid)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox[1].set_value("tsne").run()
    button = next(b for b in at.button if "Compute t-SNE" in b.label)
    button.click().run()
    assert not at.exception
    job = extraction_status(store, rid)["job_id"]
    snap = JobQueue(store).get(job)
    assert snap.kind == "embeddings" and snap.status == "queued" and snap.config["method"] == "tsne"
    run_worker_once(store)
    status = wait_finished(store, rid)
    assert status["status"] == "done", status
    assert JobQueue(store).get(job).status == "completed"
    params = projection_params("tsne", {"perplexity": 30.0})
    assert projection_cached(store, rid, "tsne", 2, 0, "after", **params)
    assert projection_cached(store, rid, "tsne", 2, 0, "before", **params)
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2 and not any("not computed yet" in i.value for i in at.info)


def test_every_projection_command_line_is_accepted_by_the_cli():
    """The command line built for each method's default parameters parses with the real CLI parser (argparse
    exits with status 2 on an unknown option such as the old ``--max-iter``), and reaches the command intact."""
    import tlcore.__main__ as cli

    for method in PROJECTIONS:
        params = projection_params(method, {})
        argv = extraction_command("r1", method, 3, params)[3:]
        seen = {}
        original = dict(cli.COMMANDS)
        cli.COMMANDS["embeddings"] = lambda a: seen.setdefault("args", a) and 0
        try:
            cli.main(argv)
        except SystemExit as exc:
            raise AssertionError(f"the CLI rejects the page's command line for {method}: {argv}") from exc
        finally:
            cli.COMMANDS.clear()
            cli.COMMANDS.update(original)
        a = seen["args"]
        assert (a.run_id, a.method, a.dim) == ("r1", method, 3)
        for k, v in params.items():
            assert getattr(a, k) == v, (method, k)


def test_a_failed_background_job_is_shown_and_can_be_retried(tl_home):
    store = RunStore(tl_home)
    rid = make_run(store)
    add_before(store, rid)
    launch_extraction(store, rid, method="tsne", params={"perplexity": -5.0})
    run_worker_once(store)
    status = wait_finished(store, rid, timeout=60)
    assert status["status"] == "failed"
    assert "perplexity" in status["detail"]
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox[1].set_value("tsne").run()
    assert not at.exception
    assert any("failed" in e.value for e in at.error)
    assert any("perplexity" in c.value for c in at.code)
    button = next(b for b in at.button if "Compute t-SNE" in b.label)
    assert not button.disabled  # the user can try again
