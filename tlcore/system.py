"""What this server has, read without importing torch (the dashboard calls it on every page)."""
from __future__ import annotations

import os
import shutil
import subprocess


def device_summary() -> dict:
    """GPUs with name and free/total memory (via nvidia-smi), or the CPU when there is none."""
    gpus = []
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.free,memory.total",
                                  "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5)
            for line in out.stdout.strip().splitlines():
                name, free, total = [p.strip() for p in line.split(",")]
                gpus.append({"name": name, "free_gb": round(float(free) / 1024, 1),
                             "total_gb": round(float(total) / 1024, 1)})
        except (OSError, subprocess.SubprocessError, ValueError):
            gpus = []
    return {"gpus": gpus, "cpu_count": os.cpu_count() or 1, "kind": "cuda" if gpus else "cpu"}
