"""What every executor shares: the handle of a job a worker is responsible for, the environment of a job's
process, and what a job asks for (a GPU, how many)."""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_EXIT = -1000  # an adopted process ended: not our child, so its exit code is unknown


@dataclass
class Handle:
    """One job this worker is responsible for."""

    job_id: str
    started: float = field(default_factory=time.time)
    limit: float = 0.0
    cancel_at: float | None = None
    timeout_at: float | None = None
    gpus: str | None = None
    proc: subprocess.Popen | None = None     # local child
    pid: int | None = None                   # local: the job's process (group leader)
    pid_start: float | None = None
    ref: object = None                       # Ray ObjectRef
    adopted: bool = False
    error: str | None = None                 # what the executor knows about an abnormal end
    lane: str = "normal"                     # "light": holds one of the worker's light slots (jobs/tasks.py)


def pythonpath() -> str:
    extra = os.environ.get("PYTHONPATH")
    return str(PROJECT_ROOT) + (os.pathsep + extra if extra else "")


def job_env(root: Path) -> dict:
    """Environment of every job process: offline model hubs, safe checkpoint loading, private files."""
    return {"TL_HOME": str(root), "TORCH_FORCE_WEIGHTS_ONLY_LOAD": "1", "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
            "TRANSFORMERS_OFFLINE": os.environ.get("TRANSFORMERS_OFFLINE", "1"),
            "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": pythonpath()}


def needs_gpu(snap) -> bool:
    """A job uses a GPU unless it asks for none (``num_gpus: 0``, ``device: cpu``) or is a probe."""
    if "num_gpus" in snap.resources:
        return snap.resources["num_gpus"] > 0
    if snap.kind != "train":
        return False
    return str(snap.config.get("device", "auto")) != "cpu"


def devices_wanted(snap) -> int:
    """GPUs one job needs: a train job with ``devices: N`` (one run across N GPUs, tlcore/training/ddp.py)
    needs N, every other GPU job one."""
    try:
        return max(1, int(snap.config.get("devices", 1) or 1)) if snap.kind == "train" else 1
    except (TypeError, ValueError):
        return 1
