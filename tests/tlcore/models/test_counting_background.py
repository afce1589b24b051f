"""The Train page's parameter count and backbone ranking are job kinds of the one queue (``count``, ``rank``;
issue 24 item 1): submitted with an owner, run by the worker (submit -> worker --once -> done), their result stored
per choice, Cancel settles them, a bad config is refused at submit."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tlcore.errors import ConfigError
from tlcore.jobs import light
from tlcore.jobs.queue import JobQueue
from tlcore.models.counting import count_path, trainable_parameters

from tests.conftest import ROOT

CHOICE = ("tiny_cnn", "dann", {"freeze_backbone": True}, 4, 16)
REFUSED = ("tiny_cnn", "dann", {"trade_off": -1}, 4, 0)
RANK = ({"demo": "digits"}, ["tiny_cnn", "tiny_text"], 120, 0, 16)  # source, backbones, cap, seed, image size


def worker_once(root):
    env = {**os.environ, "TL_HOME": str(root), "TL_MAX_JOBS": "1", "OMP_NUM_THREADS": "1"}
    w = subprocess.run([sys.executable, "-m", "tlcore", "worker", "--once"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert w.returncode == 0, w.stderr


def test_count_and_rank_jobs_are_queued_run_by_the_worker_and_stored(store):
    q = JobQueue(store)
    root = store.root
    assert light.count_status(root, *CHOICE) is None
    assert light.request_count(root, *CHOICE, owner="ana") == {"status": "running"}
    (job,) = q.list(kinds=("count",))
    assert job.owner == "ana" and job.status == "queued" and job.config["bottleneck"] == 16
    assert "queued as " + job.job_id in light.count_status(root, *CHOICE)["detail"]
    other = ("tiny_cnn", "dann", {"freeze_backbone": False}, 4, 16)
    light.request_count(root, *other, owner="ana")  # one count job per user at a time: no second job
    assert len(q.list(kinds=("count",))) == 1 and light.count_status(root, *other) is None
    light.request_count(root, *REFUSED, owner="bo")  # another user's count is queued beside it
    rank = light.launch_ranking(RANK[0], root, owner="ana", backbones=RANK[1], cap=RANK[2], image_size=RANK[4])
    assert light.ranking_status(root, *RANK)["status"] == "running"

    worker_once(root)
    assert q.get(job.job_id).status == "completed", q.log_tail(job.job_id)
    rep = light.count_status(root, *CHOICE)
    assert rep["status"] == "done" and {k: rep[k] for k in ("trainable", "total")} == trainable_parameters(*CHOICE)
    assert count_path(root, *CHOICE).is_file() and count_path(root, *other) != count_path(root, *CHOICE)
    assert light.request_count(root, *CHOICE, owner="ana")["status"] == "done"  # stored: no new job
    assert len(q.list(kinds=("count",))) == 2
    # a choice the engine refuses: the job fails and the page reads the reason
    refused = light.count_status(root, *REFUSED)
    assert refused["status"] == "failed" and "params.trade_off" in refused["detail"], refused
    snap = q.get(rank)
    assert snap.status == "completed" and snap.owner == "ana", (snap.error, q.log_tail(rank))
    assert snap.progress.get("type") == "phase"  # the ranking's progress reached the job row
    ranked = light.ranking_status(root, *RANK)
    assert ranked["status"] == "done" and [r["backbone"] for r in ranked["rows"]] == ["tiny_cnn"]
    assert ranked["skipped"][0]["backbone"] == "tiny_text"


def test_cancelled_count_and_rank_jobs_read_cancelled_and_are_not_queued_again(store):
    from tlcore import auth
    from tlcore.auth import PermissionDenied

    q = JobQueue(store)
    root = store.root
    for name in ("ana", "bo"):
        auth.add_user(name, "password-x", root)
    light.request_count(root, *CHOICE, owner="ana")
    (count,) = q.list(kinds=("count",))
    rank = light.launch_ranking(RANK[0], root, owner="ana", backbones=RANK[1], cap=RANK[2], image_size=RANK[4])
    with pytest.raises(PermissionDenied):  # only the owner (or an admin) cancels
        q.cancel(count.job_id, actor="bo")
    assert q.cancel(count.job_id, actor="ana") == "cancelled"
    assert q.cancel(rank, actor="ana") == "cancelled"
    assert light.count_status(root, *CHOICE)["status"] == "cancelled"
    assert light.request_count(root, *CHOICE, owner="ana")["status"] == "cancelled"  # shown, not re-queued
    assert len(q.list(kinds=("count",))) == 1
    assert light.ranking_status(root, *RANK)["status"] == "cancelled"
    assert not count_path(root, *CHOICE).with_suffix(".log").exists()  # nothing ran


def test_count_and_rank_configs_are_checked_at_submit(store):
    q = JobQueue(store)
    for cfg, msg in (({"backbone": "no_such_net", "strategy": "dann"}, "no_such_net"),
                     ({"backbone": "tiny_cnn", "strategy": "nope"}, "unknown strategy"),
                     ({"backbone": "tiny_cnn", "strategy": "dann", "num_classes": 1}, "num_classes")):
        with pytest.raises(ConfigError, match=msg):
            q.submit(cfg, kind="count")
    for cfg, msg in (({"source": "digits"}, "domain spec"),
                     ({"source": {"demo": "digits"}, "backbones": []}, "backbones"),
                     ({"source": {"demo": "digits"}, "cap": 1}, "cap")):
        with pytest.raises(ConfigError, match=msg):
            q.submit(cfg, kind="rank")
    assert q.list() == []
