"""Parameter counts of a backbone x strategy choice, without data (random init).

``trainable_parameters`` builds the model (torch) and counts. The dashboard never builds a model in its own
process: it reads a count stored under ``<TL_HOME>/param_counts/<key>.json`` and, when there is none yet, queues a
``count`` job (:func:`tlcore.jobs.light.request_count`; the worker runs it in a light slot: owner, quota, timeout,
Cancel), whose work (:func:`run_count`) computes it and writes the file; until then the file says ``{"status":
"running", "job_id"}``. ``python -m tlcore count-params`` computes one directly (:func:`count_to_file`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tlcore import settings
from tlcore.errors import ConfigError, TLError
from tlcore.progress_file import write_report

COUNT_STALE_S = 300  # a report of a direct count without a pid that is older than this reads as failed


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


def counting_enabled() -> bool:
    """``TL_PARAM_COUNT=0`` turns the dashboard's background counts off (the job still records its count)."""
    return settings.get_bool("TL_PARAM_COUNT")


def count_to_file(root, choice: dict) -> dict:
    """Count ``choice`` (the fields of ``count_path``) and store the result (or the error) for the dashboard."""
    path = count_path(root, **choice)
    try:
        rep = {"status": "done", **trainable_parameters(**choice)}
    except TLError as exc:
        rep = {"status": "failed", "detail": str(exc)}
    write_report(path, rep)
    return rep


# -- the ``count`` job kind (named in tlcore.jobs.tasks.TASKS) ---------------------------------------------------

def check_count(config: dict, store) -> tuple[dict, str]:
    """The normalised choice of a ``count`` job and its label (torch-free); ConfigError when it cannot run."""
    from tlcore.models.registry import resolve_spec
    from tlcore.strategies.specs import SPECS

    backbone, strategy = config.get("backbone"), config.get("strategy")
    if not isinstance(backbone, str) or not backbone:
        raise ConfigError("count: backbone is required")
    resolve_spec(backbone)  # a clear error for an unknown backbone
    if strategy not in SPECS:
        raise ConfigError(f"count: unknown strategy {strategy!r}; available: {', '.join(sorted(SPECS))}")
    params, classes, bottleneck = config.get("params") or {}, config.get("num_classes", 2), config.get("bottleneck") or 0
    if not isinstance(params, dict):
        raise ConfigError("count: params must be a JSON object")
    for name, v, lo in (("num_classes", classes, 2), ("bottleneck", bottleneck, 0)):
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= 100_000:
            raise ConfigError(f"count: {name} must be a whole number in [{lo}, 100000], got {v!r}")
    return _choice(backbone, strategy, params, classes, bottleneck), f"parameter count · {backbone} · {strategy}"


def run_count(queue, cfg: dict) -> None:
    """Inside a ``count`` job: count and store; a choice the engine refuses fails the job with its reason (the
    file says so too)."""
    rep = count_to_file(queue.store.root, cfg)
    if rep["status"] != "done":
        raise TLError(rep["detail"])
