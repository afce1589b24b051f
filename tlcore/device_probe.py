"""The one device probe: which GPUs this machine offers to runs, read without importing torch.

Every question "is there a usable GPU" is answered here, and one override decides it: ``TL_GPUS``
(``"0,1"``: these GPU indices; ``"none"`` or empty: no GPU, whatever ``nvidia-smi`` shows). Without it the GPUs
are those ``nvidia-smi -L`` lists. A process told to see no GPU (``CUDA_VISIBLE_DEVICES`` empty or ``-1``, as
the job system sets for a CPU job on a GPU server) has none either.

Users: the recommended default (``strategy: auto`` picks the GPU row only where a run will have one), the job
system (which GPUs jobs are handed), the training device (``auto`` stays on the CPU when ``TL_GPUS=none``) and the
dashboard's sidebar. This module and the job system are the only places that start processes for it
(``nvidia-smi``); nothing here runs while a config is parsed.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tlcore import settings

SMI_TIMEOUT_S = 5


@dataclass(frozen=True)
class GpuState:
    """One GPU as the probe sees it: memory used by anyone, and the compute processes on it."""

    used_gb: float
    total_gb: float
    pids: tuple = ()

    @property
    def free_gb(self) -> float:
        return self.total_gb - self.used_gb


def override() -> list[str] | None:
    """The GPU indices ``TL_GPUS`` names (``[]`` for ``none``), or None when it is not set."""
    env = settings.get("TL_GPUS")
    if env is None:
        return None
    return [] if env.strip().lower() in ("", "none") else [g.strip() for g in env.split(",") if g.strip()]


def gpus_disabled() -> bool:
    """``TL_GPUS=none``: no run on this machine uses a GPU, even one that is visible."""
    return override() == []


def gpu_indices() -> list[str]:
    """GPU indices this machine hands to jobs: ``TL_GPUS``, else ``nvidia-smi -L``."""
    forced = override()
    if forced is not None:
        return forced
    return [str(i) for i in range(_smi_gpu_count())]


def has_gpu() -> bool:
    """A run started in this process would have a GPU: not hidden by ``CUDA_VISIBLE_DEVICES``, and
    ``TL_GPUS`` (else ``nvidia-smi``) lists one."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return bool(gpu_indices())


def run_uses_gpu(device: str = "auto") -> bool:
    """Whether a run asking for ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``) runs on a GPU: an explicit
    ``cuda`` does (or fails), ``cpu`` does not, ``auto`` when :func:`has_gpu`."""
    device = str(device or "auto")
    if device.startswith("cuda"):
        return True
    return device == "auto" and has_gpu()


@functools.lru_cache(maxsize=1)
def _smi_gpu_count() -> int:
    """GPUs ``nvidia-smi -L`` lists (0 without the tool or on any failure); asked once per process."""
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=SMI_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return 0
    if out.returncode != 0:
        return 0
    return sum(1 for ln in out.stdout.splitlines() if ln.startswith("GPU"))


def _num(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None  # "[N/A]" (e.g. a MIG device)


def parse_nvidia_smi(gpus_csv: str, apps_csv: str) -> dict[str, GpuState]:
    """``{index: GpuState}`` from ``nvidia-smi --query-gpu=index,uuid,memory.used,memory.total`` and
    ``--query-compute-apps=gpu_uuid,pid`` (csv, noheader, nounits; MiB). Unparsable lines are left out."""
    pids: dict[str, list[int]] = {}
    for line in apps_csv.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[1].isdigit():
            pids.setdefault(parts[0], []).append(int(parts[1]))
    out = {}
    for line in gpus_csv.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        used, total = _num(parts[2]), _num(parts[3])
        if used is None or total is None:
            continue
        out[parts[0]] = GpuState(used / 1024, total / 1024, tuple(pids.get(parts[1], ())))
    return out


def gpu_states() -> dict[str, GpuState]:
    """Each GPU's memory and compute processes: ``TL_GPU_PROBE_FILE`` (JSON ``{"0": {"used_gb": 70,
    "total_gb": 80, "pids": [4242]}}``; how tests fake a busy GPU beside ``TL_GPUS``), else ``nvidia-smi``;
    ``{}`` when unknown (then only the worker's own jobs make a GPU busy)."""
    fake = settings.get("TL_GPU_PROBE_FILE")
    if fake:
        try:
            data = json.loads(Path(fake).read_text(encoding="utf-8"))
            return {str(k): GpuState(float(v.get("used_gb", 0)), float(v.get("total_gb", 0)),
                                     tuple(int(p) for p in v.get("pids", ()))) for k, v in data.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}
    try:
        gpus = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid,memory.used,memory.total",
                               "--format=csv,noheader,nounits"], capture_output=True, text=True,
                              timeout=SMI_TIMEOUT_S)
        apps = subprocess.run(["nvidia-smi", "--query-compute-apps=gpu_uuid,pid", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=SMI_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return {}
    return parse_nvidia_smi(gpus.stdout if gpus.returncode == 0 else "", apps.stdout if apps.returncode == 0 else "")


def device_summary() -> dict:
    """What this server offers runs, for the sidebar and ``doctor``: the GPUs (name, free/total memory; only
    those ``TL_GPUS`` names when it is set), else the CPU."""
    gpus = []
    forced = override()
    if forced != [] and shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=index,name,memory.free,memory.total",
                                  "--format=csv,noheader,nounits"], capture_output=True, text=True,
                                 timeout=SMI_TIMEOUT_S)
            for line in out.stdout.strip().splitlines():
                index, name, free, total = [p.strip() for p in line.split(",")]
                if forced is None or index in forced:
                    gpus.append({"name": name, "free_gb": round(float(free) / 1024, 1),
                                 "total_gb": round(float(total) / 1024, 1)})
        except (OSError, subprocess.SubprocessError, ValueError):
            gpus = []
    return {"gpus": gpus, "cpu_count": os.cpu_count() or 1, "kind": "cuda" if gpus else "cpu"}
