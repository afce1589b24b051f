"""``python -m tlcore embeddings RUN_ID [--method pca|tsne|umap]``: extract what is missing, project, measure.

Progress goes to stderr and to ``extract_progress.json`` in the run folder (the dashboard polls it); the last
stdout line is one JSON object ``{"run_id", "method", "gap": {"before": {...}, "after": {...}}, ...}``.
"""
from __future__ import annotations

import sys
import time

from tlcore.embeddings.extract import extract_before, json_line, write_progress
from tlcore.embeddings.gap import run_gap
from tlcore.embeddings.project import PROJECTIONS, cache_name, has_features, projection_params, run_projection
from tlcore.errors import TLError

SLIM = ("mmd", "a_distance", "coral", "centroid")


def run_embeddings_command(run_id: str, method: str = "pca", dim: int = 2, seed: int = 0,
                           device: str | None = None, params: dict | None = None) -> int:
    from tlcore.runs.store import RunStore

    store = RunStore()
    store.get(run_id)  # raises a clear error for an unknown run
    if method not in PROJECTIONS:
        raise TLError(f"unknown projection {method!r}; available: {', '.join(PROJECTIONS)}")
    t0 = time.time()
    try:
        if not has_features(store, run_id, "before"):
            _say(t0, "extracting before-training features (the backbone as it was before training)")
            extract_before(store, run_id, device=device)
        params = projection_params(method, params)
        files = {}
        for i, which in enumerate(("before", "after")):
            write_progress(store, run_id, "running", 0.8 + 0.08 * i, f"{method} projection of the {which} features")
            _say(t0, f"{method} projection ({dim}-D) of the {which} features")
            run_projection(store, run_id, method=method, dim=dim, seed=seed, which=which, **params)
            key = {"seed": seed, **params} if which == "after" else {"seed": seed, "which": which, **params}
            files[which] = cache_name(method, dim, key)
        write_progress(store, run_id, "running", 0.96, "domain-gap figures")
        _say(t0, "domain-gap figures")
        gap = run_gap(store, run_id, seed=seed)
        _store_gap_in_metrics(store, run_id, gap)
    except BaseException as exc:
        write_progress(store, run_id, "failed", 1.0, f"{type(exc).__name__}: {exc}")
        raise
    write_progress(store, run_id, "done", 1.0, f"finished in {time.time() - t0:.1f}s")
    slim = {w: ({k: g.get(k) for k in SLIM} if g else None) for w, g in gap.items()}
    print(json_line({"run_id": run_id, "method": method, "dim": dim, "gap": slim, "projections": files,
                     "seconds": round(time.time() - t0, 2)}))
    return 0


def _store_gap_in_metrics(store, run_id: str, gap: dict) -> None:
    metrics = store.metrics(run_id)
    if not metrics or (metrics.get("embeddings") or {}).get("gap") == gap:
        return
    metrics["embeddings"] = {**(metrics.get("embeddings") or {}), "gap": gap}
    store.write_json(run_id, "metrics.json", metrics)


def _say(t0: float, msg: str) -> None:
    print(f"[{time.time() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)
