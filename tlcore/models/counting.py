"""Parameter counts of a backbone x strategy choice, without data (random init).

``trainable_parameters`` builds the model (torch) and counts. The dashboard never builds a model in its own
process: it reads a count stored under ``<TL_HOME>/param_counts/<key>.json`` (``read_count``) and, when there
is none yet, starts ``python -m tlcore count-params`` in the background (``launch_count``), which computes it
and writes the file; while it runs the file says ``{"status": "running"}``.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from tlcore import settings
from tlcore.children import read_report, write_report


def trainable_parameters(backbone: str, strategy: str, params: dict | None = None, num_classes: int = 2,
                         bottleneck: int = 0) -> dict:
    """Trainable and total parameter counts for a backbone x strategy choice (random init, no data)."""
    import torch

    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier, count_parameters
    from tlcore.strategies import build_strategy
    from tlcore.strategies.base import SetupContext

    strat = build_strategy(strategy, params)
    model = Classifier(create_backbone(backbone, pretrained=False), num_classes, bottleneck=bottleneck)
    strat.configure(model, SetupContext(lr=1e-3, weight_decay=0.0, num_classes=num_classes,
                                        feature_dim=model.out_features, device=torch.device("cpu")))
    extra = sum(count_parameters(m) for m in strat.extra_modules())
    return {"trainable": count_parameters(model) + extra,
            "total": count_parameters(model, trainable_only=False) + extra}


def _choice(backbone: str, strategy: str, params: dict | None, num_classes: int, bottleneck: int) -> dict:
    return {"backbone": backbone, "strategy": strategy, "params": dict(params or {}),
            "num_classes": int(num_classes), "bottleneck": int(bottleneck or 0)}


def count_path(root, backbone: str, strategy: str, params: dict | None = None, num_classes: int = 2,
               bottleneck: int = 0) -> Path:
    raw = json.dumps(_choice(backbone, strategy, params, num_classes, bottleneck), sort_keys=True, default=str)
    return Path(root) / "param_counts" / f"{hashlib.sha1(raw.encode()).hexdigest()[:16]}.json"


def read_count(root, backbone: str, strategy: str, params: dict | None = None, num_classes: int = 2,
               bottleneck: int = 0) -> dict | None:
    """``{"status": "done", "trainable", "total"}``, ``{"status": "running"}``, ``{"status": "failed",
    "detail"}`` (also for a counting process that died), or None when never counted."""
    return read_report(count_path(root, backbone, strategy, params, num_classes, bottleneck), 300)


def counting_busy() -> bool:
    """True while a count started by this process still runs: the page starts one at a time, so quick
    changes of the form do not pile up processes that each load torch."""
    from tlcore.children import running_with

    return running_with("count-params") > 0


def counting_enabled() -> bool:
    """``TL_PARAM_COUNT=0`` turns the dashboard's background counts off (the job still records its count)."""
    return settings.get_bool("TL_PARAM_COUNT")


def request_count(root, *choice) -> dict:
    """The count for ``choice`` (``count_path``'s arguments) as :func:`read_count` reports it; when it was never
    counted and no count of this process is running, starts one. ``{"status": "running"}`` until it is there."""
    rep = read_count(root, *choice)
    if rep is None and not counting_busy():
        launch_count(root, *choice)
    return rep or {"status": "running"}


def launch_count(root, backbone: str, strategy: str, params: dict | None = None, num_classes: int = 2,
                 bottleneck: int = 0) -> int:
    """Start ``python -m tlcore count-params`` for this choice in its own process; returns its pid."""
    from tlcore.children import spawn

    choice = _choice(backbone, strategy, params, num_classes, bottleneck)
    path = count_path(root, **choice)
    write_report(path, {"status": "running", "time": time.time()})
    proc = spawn([sys.executable, "-m", "tlcore", "count-params", json.dumps(choice)], path.with_suffix(".log"),
                 env={**os.environ, "TL_HOME": str(root)})
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("status") == "running":
            write_report(path, {"status": "running", "time": time.time(), "pid": proc.pid})
    except (OSError, ValueError):
        pass
    return proc.pid


def count_to_file(root, choice: dict) -> dict:
    """Count ``choice`` (the fields of ``count_path``) and store the result (or the error) for the dashboard."""
    from tlcore.errors import TLError

    path = count_path(root, **choice)
    try:
        rep = {"status": "done", **trainable_parameters(**choice)}
    except TLError as exc:
        rep = {"status": "failed", "detail": str(exc)}
    write_report(path, rep)
    return rep
