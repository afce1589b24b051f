"""Reference checks: users should see when a pretrained run went wrong.

A pretrained image run is flagged when its target accuracy ends below

* the **small-CNN reference**: ``small_cnn`` (LeNet-size, random init) trained from scratch on the same
  source, evaluated on the same target test samples; or
* the **frozen linear probe** of the same backbone on the same split.

References are found among the completed runs of the store on the same pair, seed and split settings (so
they are scored on the same target test samples). Nothing here trains; ``python -m tlcore reference``
(or a sweep) trains the small-CNN reference for a pair. Plain data in, plain data out; no torch import.
"""
from __future__ import annotations

SPLIT_KEYS = ("source", "target", "seed", "max_samples_per_domain", "val_fraction", "test_fraction",
              "label_intersection")
REFERENCE_BACKBONE = "small_cnn"


def same_split(a: dict, b: dict) -> bool:
    """Two run configs draw the same split (same target test samples)."""
    return all(a.get(k) == b.get(k) for k in SPLIT_KEYS)


def reference_config(cfg: dict) -> dict:
    """The small-CNN reference run for a run config: same pair and split, trained from scratch on the source
    at the data's native resolution (32 px), source-only."""
    keep = {k: cfg[k] for k in SPLIT_KEYS if k in cfg}
    return {**keep, "backbone": REFERENCE_BACKBONE, "strategy": "scratch", "params": {}, "image_size": 32,
            "epochs": 15, "batch_size": 64, "lr": 1e-3, "augment": "shapes" if _digit_like(cfg) else "natural",
            "bottleneck": 0, "name": "small-CNN reference", "device": cfg.get("device", "auto")}


def _digit_like(cfg: dict) -> bool:
    return "digit" in str(cfg.get("source", "")).lower() or "mnist" in str(cfg.get("source", "")).lower()


def reference_flags(run, candidates) -> list[dict]:
    """Flags for one run record against completed runs ``candidates`` (RunRecord-like: ``config``,
    ``status``, ``target_acc``, ``run_id``, ``backbone``, ``strategy``).

    Returns a list of ``{"kind", "message", "reference_run", "reference_acc", "run_acc"}``; empty when the run
    is at or above every reference found, is not a pretrained image run, or has no target accuracy.
    """
    cfg = run.config or {}
    if run.target_acc is None or run.modality not in (None, "image") or cfg.get("pretrained") is False:
        return []
    if run.backbone == REFERENCE_BACKBONE or cfg.get("strategy") == "scratch":
        return []
    flags = []
    for kind, pick in (("below_small_cnn", _is_small_cnn), ("below_linear_probe", _is_probe_of(run))):
        refs = [r for r in candidates if r.run_id != run.run_id and r.status == "completed"
                and r.target_acc is not None and pick(r) and same_split(cfg, r.config or {})]
        if not refs:
            continue
        best = max(refs, key=lambda r: r.target_acc)
        if run.target_acc + 1e-9 < best.target_acc:
            what = "the small CNN trained from scratch" if kind == "below_small_cnn" else \
                "the frozen linear probe of the same backbone"
            flags.append({"kind": kind, "reference_run": best.run_id, "reference_acc": best.target_acc,
                          "run_acc": run.target_acc,
                          "message": f"target accuracy {run.target_acc:.1%} is below {what} "
                                     f"({best.target_acc:.1%}, run {best.run_id}) on the same target test "
                                     "samples: something went wrong (input size, learning rate, epochs?)"})
    return flags


def _is_small_cnn(r) -> bool:
    return r.backbone == REFERENCE_BACKBONE


def _is_probe_of(run):
    def pick(r) -> bool:
        return r.strategy == "linear_probe" and r.backbone == run.backbone
    return pick


REFERENCE_KINDS = ("below_small_cnn", "below_linear_probe")


def store_flags(store, run_id: str) -> list[dict]:
    """Flags of one stored run: those recorded with its metrics when it ran (e.g. ``duplicate_leakage``, see
    :mod:`tlcore.data.duplicates`), then the reference flags checked now against the other runs of its store."""
    run = store.get(run_id)
    recorded = [f for f in (store.metrics(run_id).get("flags") or [])
                if isinstance(f, dict) and f.get("kind") not in REFERENCE_KINDS and f.get("message")]
    return recorded + reference_flags(run, store.list(status="completed"))
