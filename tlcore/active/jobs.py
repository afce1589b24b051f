"""The ``query`` job kind (named in :data:`tlcore.jobs.tasks.TASKS`): a run's target training pool through its
model and a query strategy, in the job's own process (the dashboard never loads a model). The check at submit is
torch-free; the result, ``$TL_HOME/outputs/<job_id>/result.json``, is what ``python -m tlcore query`` prints, with
each picked sample's ``thumbnail`` (a small PNG as base64, images only) for the labelling page.
"""
from __future__ import annotations

import base64
import io
import json

from tlcore.active.query import METHODS
from tlcore.errors import ConfigError, TLError
from tlcore.job_context import current_job, job_folder, report_progress
from tlcore.runs.files import private_dir, write_atomic

RESULT_FILE = "result.json"
MAX_BUDGET = 200
THUMB = 96  # pixels, longest side


def check_query(config: dict, store) -> tuple[dict, str]:
    """``{"run_id", "method", "budget", "seed"}`` normalised, and the job's label."""
    run_id = config.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ConfigError("query: run_id is required")
    rec = store.get(run_id)
    if rec.status != "completed":
        raise ConfigError(f"query: run {run_id} is {rec.status}; only a completed run has a model to ask")
    method, budget, seed = config.get("method", "badge"), config.get("budget"), config.get("seed", 0)
    if method not in METHODS:
        raise ConfigError(f"query: method must be one of {list(METHODS)}, got {method!r}")
    for name, value, low, high in (("budget", budget, 1, MAX_BUDGET), ("seed", seed, 0, 2**31 - 1)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"query: {name} must be a whole number in [{low}, {high}], got {value!r}")
    return {"run_id": run_id, "method": method, "budget": budget, "seed": seed}, \
        f"query · {run_id} · {method} · {budget}"


def read_result(root, job_id: str) -> dict | None:
    """A finished query job's result, None before that."""
    try:
        return json.loads((job_folder(root, job_id) / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sample_images(store, run_id: str, ids: list[str]) -> list:
    """The images (HxWx3 uint8 arrays) of run ``run_id``'s target samples ``ids``, as its data preparation gives
    them."""
    from tlcore.config import RunConfig
    from tlcore.data.prepare import prepare_data

    target = prepare_data(RunConfig.from_dict(store.get(run_id).config))[1]
    position = {s: i for i, s in enumerate(target.sources)}
    return [target.samples[position[i]] for i in ids]


def _thumbnail(sample) -> str:
    from PIL import Image

    img = Image.fromarray(sample)
    img.thumbnail((THUMB, THUMB))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def run_query(queue, cfg: dict) -> None:
    from tlcore.active.pool import load_pool, query_run

    job_id = current_job()
    if not job_id:
        raise TLError("the query job kind runs inside a job (TL_JOB_ID is not set)")
    folder = private_dir(job_folder(queue.store.root, job_id))
    report_progress(0.1, f"running {cfg['run_id']}'s model over its target training pool")
    pool = load_pool(queue.store, cfg["run_id"])
    report_progress(0.8, f"choosing {cfg['budget']} by {cfg['method']}")
    out = query_run(queue.store, cfg["run_id"], cfg["method"], cfg["budget"], seed=cfg["seed"], pool=pool)
    out["classes"] = pool.classes
    if pool.modality == "image":
        images = sample_images(queue.store, cfg["run_id"], [s["id"] for s in out["samples"]])
        for s, img in zip(out["samples"], images):
            s["thumbnail"] = _thumbnail(img)
    write_atomic(folder / RESULT_FILE, json.dumps(out).encode("utf-8"))
    report_progress(1.0, f"{len(out['samples'])} sample(s) to label")
