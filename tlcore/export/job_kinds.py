"""The job kinds of this package (named in :data:`tlcore.jobs.tasks.TASKS`): ``predict`` (a batch through a run's
model into a CSV), ``export`` (a run's model in a deployable format, zipped once) and ``compress`` (pruning and/or
int8 into a new run owned by the job's owner). Each has its check at submit (torch-free: pages submit them through
:mod:`tlcore.export.client`) and its work, run in the job's process by the worker like any job (owner, quota,
timeout, Cancel). A job writes only into its own folder, ``$TL_HOME/outputs/<job_id>/``: the result
(``result.json``) and its file (the CSV, or the export's ZIP). torch is imported by the work only.
"""
from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from tlcore.errors import ConfigError, TLError
from tlcore.job_context import current_job, job_folder, report_progress

RESULT_FILE = "result.json"
MAX_PRUNE = 0.95


def read_result(root, job_id: str) -> dict | None:
    """What a finished job of these kinds wrote as its result, None before that."""
    try:
        return json.loads((job_folder(root, job_id) / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- checks at submit (torch-free) ------------------------------------------------------------------------------

def _run_id(config: dict, store, kind: str) -> str:
    run_id = config.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ConfigError(f"{kind}: run_id is required")
    rec = store.get(run_id)  # a clear error for an unknown run
    if rec.status != "completed":
        raise ConfigError(f"{kind}: run {run_id} is {rec.status}; only a completed run has a model to use")
    return run_id


def check_predict(config: dict, store) -> tuple[dict, str]:
    run_id = _run_id(config, store, "predict")
    uploads = (Path(store.root) / "predict").resolve()
    spec = Path(str(config.get("input") or "")).resolve()
    if not spec.is_relative_to(uploads) or not spec.is_file():
        raise ConfigError("predict: input must be a batch saved under $TL_HOME/predict (new_batch)")
    column, top_k = config.get("text_column"), config.get("top_k", 3)
    if column is not None and not isinstance(column, str):
        raise ConfigError(f"predict: text_column must be a column name, got {column!r}")
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 100:
        raise ConfigError(f"predict: top_k must be a whole number in [1, 100], got {top_k!r}")
    out = {"run_id": run_id, "input": str(spec), "text_column": column, "top_k": top_k}
    return out, f"predict · {run_id} · {spec.name}"


def check_export(config: dict, store) -> tuple[dict, str]:
    from tlcore.export.formats import FORMATS

    run_id = _run_id(config, store, "export")
    fmt, int8 = config.get("format"), bool(config.get("int8", False))
    if fmt not in FORMATS:
        raise ConfigError(f"export: format {fmt!r} is unknown; choose one of {', '.join(FORMATS)}")
    if int8 and fmt != "onnx":
        raise ConfigError("export: int8 only with the onnx format")
    return {"run_id": run_id, "format": fmt, "int8": int8}, f"export · {run_id} · {fmt}"


def check_compress(config: dict, store) -> tuple[dict, str]:
    run_id = _run_id(config, store, "compress")
    prune, quantize = config.get("prune", 0.0), config.get("quantize")
    epochs, samples = config.get("finetune_epochs", 0), config.get("latency_samples", 64)
    if not isinstance(prune, (int, float)) or isinstance(prune, bool) or not 0 <= prune <= MAX_PRUNE:
        raise ConfigError(f"compress: prune must be a fraction in [0, {MAX_PRUNE}], got {prune!r}")
    if quantize not in (None, "int8"):
        raise ConfigError(f"compress: quantize must be int8 or null, got {quantize!r}")
    if not prune and quantize is None:
        raise ConfigError("compress: nothing to do; give prune > 0 and/or quantize int8")
    for name, v, hi in (("finetune_epochs", epochs, 50), ("latency_samples", samples, 10_000)):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= hi:
            raise ConfigError(f"compress: {name} must be a whole number in [0, {hi}], got {v!r}")
    out = {"run_id": run_id, "prune": float(prune), "quantize": quantize, "finetune_epochs": epochs,
           "latency_samples": samples}
    what = ", ".join([f"prune {prune:.0%}"] * bool(prune) + ["int8"] * bool(quantize))
    return out, f"compress · {run_id} · {what}"


# -- the work (in the job's process; ``queue.store.owner`` is the job's owner) ----------------------------------

def _folder(queue) -> Path:
    job_id = current_job()
    if not job_id:
        raise TLError("these job kinds run inside a job (TL_JOB_ID is not set)")
    folder = job_folder(queue.store.root, job_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _write_result(folder: Path, result: dict) -> None:
    tmp = folder / f".{RESULT_FILE}.tmp"
    tmp.write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, folder / RESULT_FILE)


def run_predict(queue, cfg: dict) -> None:
    from tlcore.export.predict import predict_into

    folder = _folder(queue)
    report_progress(0.1, f"predicting with {cfg['run_id']}")
    out = predict_into(queue.store, cfg["run_id"], cfg["input"], folder / f"predictions_{cfg['run_id']}.csv",
                       text_column=cfg.get("text_column"), top_k=cfg.get("top_k", 3))
    _write_result(folder, {**out, "file": out["out"]})
    report_progress(1.0, f"{out['n']} prediction(s) written")


def run_export(queue, cfg: dict) -> None:
    """Export into the job's folder, then zip it ONCE (the page offers that file; nothing zips on a poll)."""
    from tlcore.export.formats import export_into

    folder = _folder(queue)
    name = f"{cfg['run_id']}-{cfg['format']}"
    report_progress(0.1, f"exporting {cfg['run_id']} as {cfg['format']}")
    out = export_into(queue.store, cfg["run_id"], cfg["format"], folder / name, int8=cfg.get("int8", False))
    report_progress(0.8, "zipping the export")
    zipped = zip_folder(folder / name, folder / f"{name}.zip")
    shutil.rmtree(folder / name)  # the ZIP holds it; one copy on disk
    _write_result(folder, {**out, "file": str(zipped), "zip_bytes": zipped.stat().st_size})
    report_progress(1.0, "export ready")


def run_compress(queue, cfg: dict) -> None:
    """A new run owned by the job's owner (the runner set ``queue.store.owner``); the job's ``run_id`` names it."""
    from tlcore.export.compress import compress_run

    folder = _folder(queue)
    steps = iter((0.1, 0.3, 0.5, 0.7, 0.85, 0.9, 0.95))

    def progress(msg: str) -> None:
        print(msg, flush=True)
        report_progress(next(steps, 0.95), msg)

    out = compress_run(queue.store, cfg["run_id"], prune=cfg["prune"], quantize=cfg.get("quantize"),
                       finetune_epochs=cfg.get("finetune_epochs", 0), latency_samples=cfg.get("latency_samples", 64),
                       progress=progress)
    queue.update(current_job(), run_id=out["run_id"])
    _write_result(folder, out)
    report_progress(1.0, f"compressed into run {out['run_id']}")


def zip_folder(folder: Path, dst: Path) -> Path:
    """``folder`` as a ZIP file at ``dst`` (written under a temporary name, renamed into place)."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{folder.name}/{p.relative_to(folder)}")
    os.replace(tmp, dst)
    return dst
