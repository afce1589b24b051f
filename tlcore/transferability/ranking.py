"""Backbone ranking before training: LogME and N-LEEP of every loadable backbone on a sample of the source.

``rank_backbones`` loads the (labeled) source domain, takes a seeded stratified sample of at most ``cap``
samples, and for every backbone of the domain's modality that loads here (embedded, tiny, and registered
timm/torchvision/Hugging Face models whose weights are cached; or the names given) extracts pretrained
features and scores them. Backbones that cannot load are listed with the reason. The result is cached as
JSON under ``<TL_HOME>/transferability/<key>.json``; while it runs the same file holds ``{"status":
"running", "progress", "detail"}`` for the dashboard to poll. ``launch_ranking`` starts
``python -m tlcore rank-backbones`` in its own process (pages never import torch).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from tlcore.children import read_report, write_report

RANK_CAP = 500  # source samples per backbone
RANDOM_INIT = ("tiny", "reference")  # backbone families without pretrained weights (scored as built)


def ranking_key(source: dict, backbones: list[str] | None, cap: int, seed: int, image_size: int | None) -> str:
    raw = json.dumps({"s": source, "b": backbones, "c": cap, "seed": seed, "px": image_size}, sort_keys=True,
                     default=str)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def ranking_path(root, source: dict, backbones: list[str] | None = None, cap: int = RANK_CAP, seed: int = 0,
                 image_size: int | None = None) -> Path:
    return Path(root) / "transferability" / f"{ranking_key(source, backbones, cap, seed, image_size)}.json"


def read_ranking(root, source: dict, backbones: list[str] | None = None, cap: int = RANK_CAP, seed: int = 0,
                 image_size: int | None = None) -> dict | None:
    """The stored ranking (or its progress while it runs); None when never computed."""
    return read_report(ranking_path(root, source, backbones, cap, seed, image_size), 600)


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
    from tlcore.errors import ConfigError
    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import BackboneOnly
    from tlcore.models.registry import resolve_spec
    from tlcore.training.batches import encode_for
    from tlcore.training.device import resolve_device, seed_everything

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no downloads at run time: uncached models are skipped fast
    path = ranking_path(root or ".", source, backbones, cap, seed, image_size)
    t0 = time.time()

    def progress(p, detail):
        if write:
            write_report(path, {"status": "running", "progress": p, "detail": detail, "pid": os.getpid(),
                          "time": time.time()})

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


def launch_ranking(source: dict, root, image_size: int | None = None) -> int:
    """Start ``python -m tlcore rank-backbones`` for ``source`` in its own process; returns its pid."""
    from tlcore.children import spawn

    path = ranking_path(root, source, image_size=image_size)
    write_report(path, {"status": "running", "progress": 0.0, "detail": "starting", "time": time.time()})
    args = [sys.executable, "-m", "tlcore", "rank-backbones", "--source", json.dumps(source)]
    args += ["--image-size", str(image_size)] if image_size else []
    proc = spawn(args, path.with_suffix(".log"), env={**os.environ, "TL_HOME": str(root)})
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("detail") == "starting":
            write_report(path, {"status": "running", "progress": 0.0, "detail": "starting", "time": time.time(),
                          "pid": proc.pid})
    except (OSError, ValueError):
        pass
    return proc.pid
