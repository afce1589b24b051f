"""A job as plain data (:class:`JobSnapshot`, read from a ``jobs`` row) and the checks of what a job asks for
(its ``resources``: CPUs, GPUs, custom Ray resources). Used by :mod:`tlcore.jobs.queue`, which re-exports them."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from tlcore.errors import ConfigError, TLError

ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class JobSnapshot:
    """One job as plain data (what pages poll)."""

    job_id: str
    label: str
    status: str
    created: float
    started: float | None
    finished: float | None
    heartbeat: float | None
    run_id: str | None
    pid: int | None
    cancel_requested: bool
    error: str | None
    progress: dict
    config: dict
    log_path: str | None
    kind: str = "train"
    owner: str | None = None
    executor: str | None = None
    node: str | None = None
    gpus: str | None = None
    resources: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class JobNotFound(TLError):
    """No job with that id."""


def check_resources(res: dict) -> dict:
    out = {}
    for k in ("num_cpus", "num_gpus"):
        if res.get(k) is None:
            continue
        v = res[k]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 or v > 1024:
            raise ConfigError(f"{k}: expected a number >= 0, got {v!r}")
        out[k] = v
    if res.get("ray_resources") is not None:
        out["ray_resources"] = check_ray_resources(res["ray_resources"])
    unknown = set(res) - {"num_cpus", "num_gpus", "ray_resources"}
    if unknown:
        raise ConfigError(f"resources: unknown keys {sorted(unknown)}; use num_cpus, num_gpus and ray_resources")
    return out


RAY_BUILTIN = {"CPU", "GPU", "memory", "object_store_memory"}


def check_ray_resources(res) -> dict:
    """Custom Ray resources a job asks for (``{"node_b": 1}``: it runs only on a node started with
    ``ray start --resources='{"node_b": N}'``); names and amounts checked, CPUs and GPUs refused (``num_cpus``,
    ``num_gpus``)."""
    if not isinstance(res, dict) or not res:
        raise ConfigError(f"ray_resources: expected a JSON object of resource names and amounts, e.g. "
                          f'{{"node_b": 1}}, got {res!r}'[:300])
    out = {}
    for name, amount in res.items():
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or any(ord(c) < 32 for c in name):
            raise ConfigError(f"ray_resources: {name!r} is not a resource name")
        if name in RAY_BUILTIN or name.startswith("node:"):
            raise ConfigError(f"ray_resources: {name!r} is one of Ray's own resources; use num_cpus/num_gpus, or a "
                              "custom resource given to the nodes with `ray start --resources`")
        if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not 0 < amount <= 10_000:
            raise ConfigError(f"ray_resources: {name}: expected an amount > 0, got {amount!r}")
        out[name] = amount
    return out


def job_label(cfg: dict) -> str:
    def dom(d):
        return d.get("name") or (f"demo:{d['demo']}" if d.get("demo") else os.path.basename(str(d.get("path"))))

    backbone = cfg.get("backbone") or "recommended"  # "auto" is resolved when the job starts
    return f"{cfg.get('strategy', 'auto')} · {backbone} · {dom(cfg['source'])} → {dom(cfg['target'])}"


def snapshot(row) -> JobSnapshot:
    d = dict(row)
    return JobSnapshot(job_id=d["job_id"], label=d["label"] or "", status=d["status"], created=d["created"],
                       started=d["started"], finished=d["finished"], heartbeat=d["heartbeat"], run_id=d["run_id"],
                       pid=d["pid"], cancel_requested=bool(d["cancel_requested"]), error=d["error"],
                       progress=json.loads(d["progress"]) if d["progress"] else {},
                       config=json.loads(d["config"]), log_path=d["log_path"], kind=d.get("kind") or "train",
                       owner=d.get("owner"), executor=d.get("executor"), node=d.get("node"), gpus=d.get("gpus"),
                       resources=json.loads(d["resources"]) if d.get("resources") else {})
