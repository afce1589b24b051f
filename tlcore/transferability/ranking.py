"""Backbone ranking before training: LogME and N-LEEP of every loadable backbone on a sample of the source.

``rank_backbones`` loads the (labeled) source domain, takes a seeded stratified sample of at most ``cap``
samples, and for every backbone of the domain's modality that loads here (embedded, tiny, and registered
timm/torchvision/Hugging Face models whose weights are cached; or the names given) extracts pretrained
features and scores them. Backbones that cannot load are listed with the reason. The result is cached as
JSON under ``<TL_HOME>/transferability/<key>.json``; while it runs the same file holds ``{"status":
"running", "progress", "detail"}`` for the dashboard to poll. The dashboard queues a ``rank`` job
(:func:`tlcore.jobs.light.launch_ranking`; the worker runs it in a light slot: owner, quota, timeout, Cancel) and
the file names the job, so readers settle it from the queue; ``python -m tlcore rank-backbones`` runs it directly.
Pages never import torch.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from tlcore.errors import ConfigError
from tlcore.progress_file import progress_reporter, write_report

RANK_CAP = 500  # source samples per backbone
RANDOM_INIT = ("tiny", "reference")  # backbone families without pretrained weights (scored as built)
RANK_STALE_S = 600  # a report of a direct ranking without a pid that is older than this reads as failed


def ranking_key(source: dict, backbones: list[str] | None, cap: int, seed: int, image_size: int | None) -> str:
    raw = json.dumps({"s": source, "b": backbones, "c": cap, "seed": seed, "px": image_size}, sort_keys=True,
                     default=str)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def ranking_path(root, source: dict, backbones: list[str] | None = None, cap: int = RANK_CAP, seed: int = 0,
                 image_size: int | None = None) -> Path:
    return Path(root) / "transferability" / f"{ranking_key(source, backbones, cap, seed, image_size)}.json"


def candidate_backbones(modality: str) -> list[str]:
    """Registered backbones of ``modality``: embedded first, then the others (which load only when cached)."""
    from tlcore.models.registry import BACKBONES

    return sorted((n for n, s in BACKBONES.items() if s.modality == modality),
                  key=lambda n: (not BACKBONES[n].embedded, BACKBONES[n].family in ("tiny", "reference"), n))


def score_features(f: np.ndarray, y: np.ndarray, seed: int = 0) -> dict:
    from tlcore.transferability.scores import logme, nleep

    return {"logme": round(logme(f, y), 6), "nleep": round(nleep(f, y, seed=seed), 6)}


def rank_backbones(source: dict, root=None, backbones: list[str] | None = None, cap: int = RANK_CAP, seed: int = 0,
                   image_size: int | None = None, device: str | None = None, write: bool = True) -> dict:
    """Rank backbones for ``source`` (a domain spec, as in a config). Returns ``{"status": "done", "rows": [...],
    "skipped": [{"backbone", "reason"}], "n", "classes", "seconds"}``; rows best LogME first."""
    import torch

    from tlcore.data import load_domain
    from tlcore.embeddings.extract import model_features, stratified_cap
    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import BackboneOnly
    from tlcore.models.registry import resolve_spec
    from tlcore.training.batches import encode_for
    from tlcore.training.device import resolve_device, seed_everything

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no downloads at run time: uncached models are skipped fast
    path = ranking_path(root or ".", source, backbones, cap, seed, image_size)
    t0 = time.time()
    progress = progress_reporter(path, write=write)

    try:
        progress(0.02, "loading the source domain")
        seed_everything(seed)
        dom = load_domain(source, "source", seed)
        if not dom.labels:
            raise ConfigError("source: ranking backbones needs a labeled source domain")
        classes = sorted(set(dom.labels))
        y_all = np.array([classes.index(lab) for lab in dom.labels], np.int64)
        rows_idx = stratified_cap(y_all, cap, seed)
        y = y_all[rows_idx]
        samples = [dom.samples[j] for j in rows_idx]
        names = backbones or candidate_backbones(dom.modality)
        dev = resolve_device(device or "auto")
        rows, skipped = [], []
        for i, name in enumerate(names):
            progress(0.05 + 0.9 * i / max(1, len(names)), f"{name}: features of {len(samples)} samples")
            try:
                spec = resolve_spec(name)
                if spec.modality != dom.modality:
                    skipped.append({"backbone": name, "reason": f"a {spec.modality} model; the source holds "
                                                                f"{dom.modality}s"})
                    continue
                tb = time.time()
                bb = create_backbone(name, pretrained=spec.family not in RANDOM_INIT)
                model = BackboneOnly(bb).to(dev)
                ds = encode_for(bb, samples, y, image_size=image_size or min(spec.default_image_size, 128),
                                max_length=128)
                with torch.no_grad():
                    f = model_features(model, ds, np.arange(len(ds)), 64, dev)
                row = {"backbone": name, "title": spec.title, "dim": int(f.shape[1]),
                       "pretrained": spec.family not in RANDOM_INIT, **score_features(f, y, seed),
                       "seconds": round(time.time() - tb, 2)}
                rows.append(row)
            except Exception as exc:  # a backbone that cannot load here: listed with the reason
                skipped.append({"backbone": name, "reason": f"{type(exc).__name__}: {str(exc)[:200]}"})
        rows.sort(key=lambda r: -r["logme"])
        for k, r in enumerate(sorted(rows, key=lambda r: -r["nleep"]), 1):
            r["nleep_rank"] = k
        for k, r in enumerate(rows, 1):
            r["rank"] = k
        out = {"status": "done", "rows": rows, "skipped": skipped, "n": int(len(y)), "classes": len(classes),
               "modality": dom.modality, "seed": seed, "seconds": round(time.time() - t0, 2)}
    except Exception as exc:
        if write:
            write_report(path, {"status": "failed", "detail": f"{type(exc).__name__}: {exc}", "time": time.time()})
        raise
    if write:
        write_report(path, out)
    return out


# -- the ``rank`` job kind (named in tlcore.jobs.tasks.TASKS) ----------------------------------------------------

def check_ranking(config: dict, store) -> tuple[dict, str]:
    """The normalised config of a ``rank`` job and its label (torch-free); ConfigError when it cannot run."""
    source, image_size = config.get("source"), config.get("image_size")
    backbones, cap, seed = config.get("backbones"), config.get("cap", RANK_CAP), config.get("seed", 0)
    if not isinstance(source, dict) or not source:
        raise ConfigError("rank: source must be a domain spec (a JSON object)")
    if image_size is not None and (not isinstance(image_size, int) or isinstance(image_size, bool)
                                   or not 8 <= image_size <= 1024):
        raise ConfigError(f"rank: image_size must be a whole number of pixels in [8, 1024], got {image_size!r}")
    if backbones is not None and (not isinstance(backbones, list) or not backbones
                                  or not all(isinstance(b, str) and b for b in backbones)):
        raise ConfigError(f"rank: backbones must be a non-empty list of backbone names, got {backbones!r}")
    for name, v, lo, hi in (("cap", cap, 2, 100_000), ("seed", seed, 0, 2**31 - 1)):
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ConfigError(f"rank: {name} must be a whole number in [{lo}, {hi}], got {v!r}")
    name = source.get("name") or (f"demo:{source['demo']}" if source.get("demo") else
                                  os.path.basename(str(source.get("path"))))
    out = {"source": source, "backbones": backbones, "cap": cap, "seed": seed, "image_size": image_size}
    return out, f"backbone ranking · {name}"


def run_ranking(queue, cfg: dict) -> None:
    rank_backbones(cfg["source"], queue.store.root, backbones=cfg.get("backbones"), cap=cfg.get("cap", RANK_CAP),
                   seed=cfg.get("seed", 0), image_size=cfg.get("image_size"))
