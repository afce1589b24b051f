"""The light job kinds of this package (named in :data:`tlcore.jobs.tasks.TASKS`): ``embeddings`` (a run's
missing before-training features, a projection and the gap figures: what ``python -m tlcore embeddings`` does) and
``shift`` (a pair's shift report: ``python -m tlcore shift``). Each has its check at submit (torch-free) and its
work, run in the job's process; torch is imported by the work only."""
from __future__ import annotations

import os

from tlcore.errors import ConfigError, TLError


def check_embeddings(config: dict, store) -> tuple[dict, str]:
    from tlcore.embeddings.project import PROJECTIONS, projection_params

    run_id = config.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ConfigError("embeddings: run_id is required")
    store.get(run_id)  # a clear error for an unknown run
    method = config.get("method", "pca")
    if method not in PROJECTIONS:
        raise ConfigError(f"embeddings: unknown projection {method!r}; available: {', '.join(PROJECTIONS)}")
    dim = config.get("dim", 2)
    if dim not in (2, 3) or isinstance(dim, bool):
        raise ConfigError(f"embeddings: dim must be 2 or 3, got {dim!r}")
    params = config.get("params") or {}
    if not isinstance(params, dict) or any(not isinstance(v, (int, float)) or isinstance(v, bool)
                                           for v in params.values()):
        raise ConfigError("embeddings: params must map parameter names to numbers")
    unknown = set(params) - set(projection_params(method))
    if unknown:
        raise ConfigError(f"embeddings: {method} takes no parameter(s) {', '.join(sorted(unknown))}")
    out = {"run_id": run_id, "method": method, "dim": dim, "params": projection_params(method, params)}
    return out, f"embeddings · {run_id} · {method} {dim}-D"


def check_shift(config: dict, store) -> tuple[dict, str]:
    from tlcore.embeddings.shift import SHIFT_CAP

    src, tgt = config.get("source"), config.get("target")
    if not isinstance(src, dict) or not isinstance(tgt, dict):
        raise ConfigError("shift: source and target must be domain specs (JSON objects)")
    backbone = config.get("backbone")
    if backbone is not None and not isinstance(backbone, str):
        raise ConfigError(f"shift: backbone must be a name, got {backbone!r}")
    cap, seed = config.get("cap", SHIFT_CAP), config.get("seed", 0)
    if not isinstance(cap, int) or isinstance(cap, bool) or not 2 <= cap <= 100_000:
        raise ConfigError(f"shift: cap must be a whole number of samples in [2, 100000], got {cap!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"shift: seed must be a whole number, got {seed!r}")

    def name(d):
        return d.get("name") or (f"demo:{d['demo']}" if d.get("demo") else os.path.basename(str(d.get("path"))))

    out = {"source": src, "target": tgt, "backbone": backbone, "cap": cap, "seed": seed}
    return out, f"shift report · {name(src)} → {name(tgt)}"


def run_embeddings(queue, cfg: dict) -> None:
    from tlcore.embeddings.command import run_embeddings_command

    rc = run_embeddings_command(cfg["run_id"], method=cfg["method"], dim=cfg["dim"], params=cfg.get("params"))
    if rc:
        raise TLError(f"embeddings ended with exit code {rc}")


def run_shift(queue, cfg: dict) -> None:
    from tlcore.embeddings.shift import compute_shift_report

    compute_shift_report(cfg["source"], cfg["target"], queue.store.root, backbone=cfg.get("backbone"),
                         cap=cfg["cap"], seed=cfg["seed"])
