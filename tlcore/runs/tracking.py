"""MLflow tracking (issue 26 item 3): with ``MLFLOW_TRACKING_URI`` set, every run that finishes is also an MLflow
run in the experiment ``MLFLOW_EXPERIMENT_NAME`` (default ``TL Studio``).

What is sent (through the public ``mlflow.tracking.MlflowClient`` API):

* params: ``strategy``, ``backbone``, ``source``, ``target``, ``seed``, ``status`` and the resolved settings
  flattened (``config.epochs``, ``config.params.lr``...);
* metrics: per epoch (``train/<key>`` from ``history.json``, step = epoch), then the final ones:
  ``target_accuracy`` with ``target_accuracy_ci_low/high``, ``target_f1_macro`` (and its interval), ``source_accuracy``,
  ``source_f1_macro``, the label-free scores (``label_free/<validator>``) and ``seconds``;
* tags: ``tl.run_id``, ``tl.owner``, ``tl.resolved_from``, ``tl.node``, ``tl.status`` (+ ``tl.error``);
* artifacts: ``model.json`` (the model card), ``repro.json``, ``confusion_matrix.json`` and any ``report*.html``.

A sweep's runs (``name = "sweep:<id>"``) are nested under one parent MLflow run per sweep, found by its
``tl.sweep_id`` tag (created by the first of its runs to finish, in whichever process).

Tracking never fails a run: requests use a short timeout and no retries (set only around the calls), and any
failure becomes one ``warning`` event on the run naming ``MLFLOW_TRACKING_URI`` (without credentials) and the
``tracking`` field of its metrics (``{"ok": false, "error": ...}``). mlflow is imported only when the variable
is set. Torch-free.
"""
from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from tlcore.runs import artifacts
from tlcore.runs.artifact_store import redact

SETTING = "MLFLOW_TRACKING_URI"
DEFAULT_EXPERIMENT = "TL Studio"
TIMEOUT_S = 5  # per HTTP request: an unreachable server costs seconds, not minutes
_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": str(TIMEOUT_S)}
_STATUS = {"completed": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}
_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


def tracking_uri() -> str | None:
    from tlcore import settings

    return (settings.get(SETTING) or "").strip() or None


@contextmanager
def _client_env():
    """Short timeouts and no retries for the calls inside, the process environment restored after."""
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def track(store, run_id: str, status: str, metrics: dict | None = None, error: str | None = None) -> dict | None:
    """Log run ``run_id`` (finishing with ``status``) to MLflow. Returns None when ``MLFLOW_TRACKING_URI`` is
    unset, else ``{"ok": True, "uri", "experiment_id", "mlflow_run_id"}`` or ``{"ok": False, "uri", "error"}``
    (also recorded as a warning event on the run). Never raises."""
    uri = tracking_uri()
    if not uri:
        return None
    try:
        with _client_env():
            return {"ok": True, "uri": redact(uri), **_log(store, run_id, status, metrics or {}, error, uri)}
    except Exception as exc:  # noqa: BLE001 - tracking never fails the run
        lines = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__
        reason = re.sub(r"(://)[^/@\s]*@", r"\1***@", reason)  # the URL inside the error, without credentials
        message = f"MLflow tracking failed ({SETTING}={redact(uri)}): {reason}; the run itself is recorded here"
        try:
            store.append_event(run_id, {"type": "warning", "source": "mlflow", "message": message})
        except Exception:  # noqa: BLE001 - a full disk: the metrics field still says it
            pass
        return {"ok": False, "uri": redact(uri), "error": message}


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _experiment_id(client) -> str:
    from tlcore import settings

    name = (settings.get("MLFLOW_EXPERIMENT_NAME") or "").strip() or DEFAULT_EXPERIMENT
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    try:
        return client.create_experiment(name)
    except Exception:  # noqa: BLE001 - another process created it meanwhile
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def _find(client, experiment_id: str, tag: str, value: str):
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{tag}` = '{value}'", max_results=5,
                              order_by=["attributes.start_time ASC"])
    return runs[0] if runs else None


def _sweep_parent(client, experiment_id: str, sweep_id: str) -> str:
    """The parent MLflow run of sweep ``sweep_id`` (created by the first of its runs to finish)."""
    found = _find(client, experiment_id, "tl.sweep_parent", sweep_id)
    if found is None:
        client.create_run(experiment_id, run_name=f"sweep {sweep_id}",
                          tags={"tl.sweep_parent": sweep_id, "tl.sweep_id": sweep_id})
        found = _find(client, experiment_id, "tl.sweep_parent", sweep_id)  # the oldest one if two raced
    return found.info.run_id


def _log(store, run_id: str, status: str, metrics: dict, error: str | None, uri: str) -> dict:
    from mlflow.entities import Metric, Param, RunTag

    from tlcore.sweep_naming import sweep_of

    rec = store.get(run_id)
    client = _client(uri)
    experiment_id = _experiment_id(client)
    tags = {"tl.run_id": run_id, "tl.owner": rec.owner or "", "tl.node": socket.gethostname(),
            "tl.status": status, "tl.resolved_from": _resolved_from(store, run_id, rec.config),
            "mlflow.source.name": "TL Studio"}
    if error:
        tags["tl.error"] = error[:4000]
    sweep = sweep_of(rec.name)
    if sweep:
        tags.update({"tl.sweep_id": sweep, "mlflow.parentRunId": _sweep_parent(client, experiment_id, sweep)})
    existing = _find(client, experiment_id, "tl.run_id", run_id)  # tracked already (finished twice): update it
    if existing is not None:
        mlflow_run_id = existing.info.run_id
    else:
        mlflow_run_id = client.create_run(experiment_id, start_time=int(rec.created * 1000), tags=tags,
                                          run_name=rec.name or run_id).info.run_id
    params = {"strategy": rec.strategy, "backbone": rec.backbone, "source": rec.source, "target": rec.target,
              "seed": rec.seed, **{f"config.{k}": v for k, v in _flatten(rec.config).items()}}
    now = int(time.time() * 1000)
    ms = [Metric(f"train/{k}", float(v), now, int(row.get("epoch", i + 1)))
          for i, row in enumerate(_history(store, run_id)) for k, v in row.items()
          if k != "epoch" and _number(v)]
    ms += [Metric(k, float(v), now, 0) for k, v in final_metrics(metrics).items()]
    param_list = [Param(_KEY.sub("_", k)[:250], str(v)[:500]) for k, v in params.items() if v is not None]
    tag_list = [RunTag(k, str(v)) for k, v in tags.items()]
    if existing is not None:
        param_list = []  # params cannot change once logged
    for i in range(0, max(len(ms), len(param_list), 1), 100):
        client.log_batch(mlflow_run_id, metrics=ms[i:i + 100], params=param_list[i:i + 100],
                         tags=tag_list if i == 0 else [])
    _log_files(client, mlflow_run_id, store, run_id, metrics)
    client.set_terminated(mlflow_run_id, status=_STATUS.get(status, "FINISHED"), end_time=now)
    if sweep:  # the parent ends with its latest run (a later run of the sweep moves its end again)
        client.set_terminated(tags["mlflow.parentRunId"], status="FINISHED", end_time=now)
    return {"experiment_id": experiment_id, "mlflow_run_id": mlflow_run_id}


def final_metrics(metrics: dict) -> dict[str, float]:
    """The final numbers of ``metrics.json`` under their MLflow names (intervals as ``_ci_low/_ci_high``)."""
    out = {}
    for block, prefix in (("target_test", "target"), ("source_val", "source")):
        m = metrics.get(block) or {}
        for key in ("accuracy", "f1_macro", "balanced_accuracy", "roc_auc"):
            if _number(m.get(key)):
                out[f"{prefix}_{key}"] = m[key]
            ci = m.get(f"{key}_ci")
            if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_number(c) for c in ci):
                out[f"{prefix}_{key}_ci_low"], out[f"{prefix}_{key}_ci_high"] = ci
    for name, value in ((metrics.get("target_unsupervised") or {}).get("scores") or {}).items():
        if _number(value):
            out[f"label_free/{_KEY.sub('_', str(name))}"] = value
    for key in ("best_epoch", "seconds_train", "trainable_params"):
        if _number(metrics.get(key)):
            out[key] = metrics[key]
    return out


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, (list, dict)) else v
    return out


def _history(store, run_id: str) -> list[dict]:
    hist = store.read_json(run_id, artifacts.HISTORY)
    if isinstance(hist, list) and hist:
        return [h for h in hist if isinstance(h, dict)]
    return [e for e in store.events(run_id) if e.get("type") == "epoch"]


def _resolved_from(store, run_id: str, config: dict) -> str:
    for e in store.events(run_id):
        if e.get("type") == "resolved":
            return str(e.get("resolved_from") or "auto")
    return str(config.get("resolved_from") or "config")


def _log_files(client, mlflow_run_id: str, store, run_id: str, metrics: dict) -> None:
    names = [artifacts.MODEL_META, artifacts.REPRO]
    folder = store.folder(run_id)
    if folder.is_dir():
        names += sorted(p.name for p in folder.iterdir() if p.name.startswith("report") and p.suffix == ".html")
    for name in names:
        path = store.local(run_id, name)
        if path.is_file():
            client.log_artifact(mlflow_run_id, str(path))
    tt = metrics.get("target_test") or {}
    if tt.get("confusion_matrix"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "confusion_matrix.json"
            path.write_text(json.dumps({"classes": tt.get("classes") or metrics.get("classes"),
                                        "matrix": tt["confusion_matrix"]}), encoding="utf-8")
            client.log_artifact(mlflow_run_id, str(path))
