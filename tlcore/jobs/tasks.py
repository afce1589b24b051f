"""Task job kinds: work the dashboard asks for that makes no training run (``embeddings``: a run's missing
before-training features, projections and gap figures; ``shift``: a source/target pair's shift report; ``predict``:
a batch through a run's model; ``export``: a run's model in a deployable format, zipped once; ``compress``: pruning
and/or int8 into a new run; ``query``: which target samples of a run to label next, :mod:`tlcore.active.jobs`;
``label_curve``: accuracy against the number of labelled target samples, :mod:`tlcore.label_curve`, many runs).
They go through the persisted queue like training (owner, quota, timeout, cancel, Local
or Ray executor), and the worker keeps a small pool of **light slots** (``TL_LIGHT_JOBS``, default 1) for the light
ones (:data:`LIGHT_KINDS`), so they never wait behind a long training job when ``max_jobs`` is 1.
Their check and work live with them (:mod:`tlcore.embeddings.jobs`, :mod:`tlcore.export.job_kinds`,
:mod:`tlcore.active.jobs`, :mod:`tlcore.models.counting`, :mod:`tlcore.transferability.ranking`), named in
:data:`TASKS`.

They are not producers (:mod:`tlcore.producers`): the embeddings results land beside a run
(``extract_progress.json``, projections) or in the shift, parameter-count and ranking caches, and those files
carry the ``job_id``, so a reader asks the queue how the job stands (:func:`tlcore.jobs.light.settled`) instead of checking a local pid (wrong when the
job ran on another node); predict, export and compress write into their job's folder (``$TL_HOME/outputs/<job_id>/``)
and a compress job also records the new run, owned by the job's owner, as the job's ``run_id``.
Torch-free: pages import it; the work itself is imported when a job runs.
"""
from __future__ import annotations

import _thread
import importlib
import os
import threading

from tlcore import settings
from tlcore.errors import ConfigError
from tlcore.job_context import JOB_ENV, set_progress_sink

# kind -> "module:function" of its check (``fn(config, store) -> (config, label)``) and of its work
# (``fn(queue, config)``), by name: the work's modules import this one's readers (no import cycle)
TASKS = {
    "embeddings": ("tlcore.embeddings.jobs:check_embeddings", "tlcore.embeddings.jobs:run_embeddings"),
    "shift": ("tlcore.embeddings.jobs:check_shift", "tlcore.embeddings.jobs:run_shift"),
    "predict": ("tlcore.export.job_kinds:check_predict", "tlcore.export.job_kinds:run_predict"),
    "export": ("tlcore.export.job_kinds:check_export", "tlcore.export.job_kinds:run_export"),
    "compress": ("tlcore.export.job_kinds:check_compress", "tlcore.export.job_kinds:run_compress"),
    "query": ("tlcore.active.jobs:check_query", "tlcore.active.jobs:run_query"),
    "label_curve": ("tlcore.label_curve:check_label_curve", "tlcore.label_curve:run_label_curve"),
    "count": ("tlcore.models.counting:check_count", "tlcore.models.counting:run_count"),
    "rank": ("tlcore.transferability.ranking:check_ranking", "tlcore.transferability.ranking:run_ranking"),
}
TASK_KINDS = tuple(TASKS)
# short inference work a user waits for; compress (a fine-tune and a latency benchmark) takes a normal slot
LIGHT_KINDS = ("embeddings", "shift", "predict", "export", "query", "count", "rank")


def light_slots() -> int:
    """``TL_LIGHT_JOBS`` (default 1): worker slots only light kinds use, beside ``max_jobs``; 0 = none (light
    jobs then wait for a normal slot like any other)."""
    return max(0, settings.get_int("TL_LIGHT_JOBS"))


# -- validation at submit -------------------------------------------------------------------------------------

def _load(ref: str):
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def check(kind: str, config: dict, store) -> tuple[dict, str]:
    """The normalised config of a light job and its label; ConfigError when it cannot run."""
    if not isinstance(config, dict):
        raise ConfigError(f"{kind}: expected a JSON object as the job's config")
    return _load(TASKS[kind][0])(config, store)


# -- running (inside the job's process) ---------------------------------------------------------------------

def run(queue, snap, cancel_check) -> None:
    """Run a light job in this process (started by the runner). A watcher thread mirrors nothing heavy: it asks
    the queue whether the job was cancelled and interrupts the work (KeyboardInterrupt, which the runner records as
    cancelled)."""
    os.environ[JOB_ENV] = snap.job_id
    queue.store.owner = snap.owner  # what a task creates (a compressed run) is owned by the job's owner
    set_progress_sink(lambda progress, detail: queue.update(
        snap.job_id, progress={"type": "phase", "phase": detail, "progress": round(progress, 3)}))
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()

    def watch():
        while not stop.wait(0.5):
            try:
                if cancel_check():
                    if in_main:  # else (a task on a thread) the worker stops it: SIGTERM to its group, ray.cancel
                        _thread.interrupt_main()
                    return
            except Exception:  # noqa: BLE001 - a busy database: ask again
                pass

    threading.Thread(target=watch, daemon=True).start()
    try:
        _load(TASKS[snap.kind][1])(queue, snap.config)
    finally:
        stop.set()
        set_progress_sink(None)
