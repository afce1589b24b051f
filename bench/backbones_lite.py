"""The embedded EfficientNet-Lite backbones (Lite0, Lite1, Lite2; issue 25 item 3) on this CPU: parameters, the
seconds the product's frozen extraction path takes for 1,000 images at each model's native size, an ImageNet sanity
check of the loaded weights, and a frozen linear probe on Office-Caltech-10 amazon -> webcam (seed 0).

    nice -n 10 .venv/bin/python bench/backbones_lite.py [--variants efficientnet_lite0 ...] [--skip-probe]

- extraction: ``tlcore.training.features.extract_features`` (the path a frozen run caches features with: BN folded,
  ONNX Runtime on CPUs without native bf16, PyTorch bf16 autocast... as ``TL_ORT``/``TL_FOLD_BN`` decide), batch
  32, over the first 1,000 images of amazon + webcam decoded once beforehand (resizing included, decoding not);
- ImageNet sanity: timm's model with the shipped 1000-class head, at the native size, over every image of amazon
  whose class has an ImageNet counterpart (8 of the 10 classes; calculator and headphones have none): the share
  whose top-5 holds a matching ImageNet class;
- linear probe: ``bench/defaults.py``'s ``linear_probe`` row (30 epochs, batch 64, lr 1e-3, every sample, target
  unlabeled, target test = half of webcam) with the backbone and its native ``image_size``, through
  ``run_experiment``; wall seconds include decoding and feature caching.

Writes bench/results/backbones_lite.json and bench/results/backbones_lite.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from defaults import config_for, machine  # noqa: E402

OUT = ROOT / "bench" / "results"
DATA = ROOT.parent / "shared" / "data" / "office_caltech10"
VARIANTS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
# Office-Caltech-10 class -> ImageNet-1k indices that name the same object
IMAGENET = {"backpack": {414}, "bike": {444, 671, 870}, "keyboard": {508, 810, 878}, "laptop": {620, 681},
            "monitor": {527, 664, 782, 851}, "mouse": {673}, "mug": {504, 647, 968}, "projector": {745}}
COMMAND = "nice -n 10 .venv/bin/python bench/backbones_lite.py"


def params_m(name: str) -> float:
    from tlcore.models.backbones import create_backbone

    return round(sum(p.numel() for p in create_backbone(name).parameters()) / 1e6, 2)


def extraction_seconds(name: str, samples: list, size: int) -> dict:
    import numpy as np
    import torch

    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier
    from tlcore.training.batches import encode_for
    from tlcore.training.device import inference_batch_size
    from tlcore.training.features import extract_features

    bb = create_backbone(name)
    model = Classifier(bb, 10).eval()
    ds = encode_for(bb, samples, np.zeros(len(samples), dtype=np.int64), image_size=size, lazy=True)
    dev = torch.device("cpu")
    t = time.perf_counter()
    out, _ = extract_features(model, {"x": ds, "target_labeled_mask": np.zeros(len(ds), bool)}, dev,
                              inference_batch_size(dev, 64))
    secs = time.perf_counter() - t
    assert out["x"].features.shape == (len(samples), bb.out_features)
    return {"extract_1000_s": round(secs * 1000 / len(samples), 1), "images": len(samples)}


def interleaved_rates(names: list, rounds: int = 3, batches: int = 4) -> dict:
    """Images/s of each backbone's frozen extractor (BN folded, ONNX Runtime where ``TL_ORT`` wants it, as
    ``extract_features`` builds it) on one batch of 32 real-size inputs, the variants interleaved over ``rounds``
    so that a busy neighbour on the shared CPU slows all of them alike; best and median over the rounds."""
    import statistics

    import torch

    from tlcore.models.backbones import create_backbone
    from tlcore.models.fuse import folded_copy
    from tlcore.models.ort import ort_copy, ort_wanted
    from tlcore.models.registry import BACKBONES

    fns, inputs = {}, {}
    for name in names:
        size = BACKBONES[name].default_image_size
        x = (torch.rand(32, 3, size, size, generator=torch.Generator().manual_seed(0)) - 0.45) / 0.225
        bb = create_backbone(name).eval()
        module = folded_copy(bb, x[:8]) or bb
        ort = ort_copy(module, x[:8]) if ort_wanted(torch.device("cpu")) else None
        fns[name], inputs[name] = (ort or module), x
    got = {n: [] for n in names}
    with torch.no_grad():
        for _ in range(rounds):
            for n in names:
                fns[n](inputs[n])  # warm-up
                t = time.perf_counter()
                for _ in range(batches):
                    fns[n](inputs[n])
                got[n].append(batches * 32 / (time.perf_counter() - t))
    return {n: {"rate_best": round(max(v), 1), "rate_median": round(statistics.median(v), 1),
                "runtime": "onnxruntime" if ort_wanted(torch.device("cpu")) else "pytorch"} for n, v in got.items()}


def imagenet_check(name: str, domain, size: int) -> dict:
    import numpy as np
    import timm
    import torch

    from tlcore.models.backbones import load_effnet_lite_weights
    from tlcore.models.base import IMAGENET_MEAN, IMAGENET_STD
    from tlcore.training.batches import encode_images

    m = timm.create_model(name, pretrained=False)
    tensors = load_effnet_lite_weights(m, name)
    m.eval()
    idx = [i for i, y in enumerate(domain.labels) if y in IMAGENET]
    ds = encode_images([domain.samples[i] for i in idx], np.zeros(len(idx)), size, IMAGENET_MEAN, IMAGENET_STD,
                       lazy=True)
    hits, top1 = 0, 0
    per_class: dict[str, list[int]] = {}
    with torch.no_grad():
        for s in range(0, len(idx), 32):
            b = np.arange(s, min(s + 32, len(idx)))
            top = m(ds.batch(b, torch.device("cpu"))).topk(5, 1).indices.tolist()
            for j, t5 in zip(b, top):
                y = domain.labels[idx[j]]
                ok = bool(IMAGENET[y] & set(t5))
                hits += ok
                top1 += t5[0] in IMAGENET[y]
                per_class.setdefault(y, []).append(ok)
    return {"tensors_loaded": tensors, "imagenet_top5_hit": round(hits / len(idx), 3),
            "imagenet_top1_hit": round(top1 / len(idx), 3), "imagenet_images": len(idx),
            "imagenet_top5_per_class": {k: round(sum(v) / len(v), 2) for k, v in sorted(per_class.items())}}


def linear_probe(name: str, size: int, store: str) -> dict:
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    d = config_for("amazon_webcam", "linear_probe", 0)
    d.update({"backbone": name, "image_size": size})
    cfg = RunConfig.from_dict(d)
    st = RunStore(store)
    t = time.time()
    rec = run_experiment(cfg, st)
    m = st.metrics(rec.run_id)
    return {"probe_amazon_webcam": m["target_test"]["accuracy"], "probe_seconds": round(time.time() - t, 1),
            "probe_run_id": rec.run_id}


def write_report(rows: list) -> None:
    (OUT / "backbones_lite.json").write_text(json.dumps(rows, indent=1))
    lines = ["# Embedded EfficientNet-Lite backbones on the CPU (issue 25 item 3)", "",
             f"`{COMMAND}` (one run per model, one at a time). Machine: {rows[0]['machine']}; "
             f"load average at the start of each row in the table (the CPU is shared).", "",
             "| backbone | native px | params (M, no head) | extract 1,000 images (s) | load1 | images/s best "
             "(median), interleaved | ImageNet top-5 / top-1 on amazon (8 classes) | linear probe amazon -> webcam, "
             "seed 0 | probe run wall s | date |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        probe = f"{100 * r['probe_amazon_webcam']:.1f} %" if r.get("probe_amazon_webcam") is not None else "-"
        rate = f"{r['rate_best']} ({r['rate_median']})" if r.get("rate_best") else "-"
        lines.append(f"| {r['backbone']} | {r['size']} | {r['params_m']} | {r['extract_1000_s']} | {r['load1']} | "
                     f"{rate} | {100 * r['imagenet_top5_hit']:.1f} % / {100 * r['imagenet_top1_hit']:.1f} % "
                     f"(n={r['imagenet_images']}) | {probe} | {r.get('probe_seconds', '-')} | {r['date']} |")
    lines += ["", "Extraction: one run per model of the product's frozen-feature path (`extract_features`: BN folded, then ONNX Runtime or "
              "PyTorch as `TL_ORT=auto` decides on this CPU), batch 32, resizing and the ONNX export included, decoding not; "
              "load1 = the load average when it started (2 cores, shared with other sessions: above 2 the figure is "
              "slowed by neighbours). Interleaved images/s (`--rates-only`): the same extractor on one batch of 32, "
              "the models alternating over 3 rounds of 4 batches, so the ratio between models holds under load. "
              "ImageNet "
              "check: the shipped 1000-class head on every amazon image of the 8 Office-Caltech-10 classes with an "
              "ImageNet counterpart (backpack, bike, keyboard, laptop, monitor, mouse, mug, projector); a hit = a "
              "matching ImageNet class in the top 5 (resp. top 1); chance (a random top 5 of 1,000 classes) is 0.5-2 %. Every shipped "
              "tensor is paired with timm's by order with its shape and kind checked "
              "(`tlcore.models.backbones.load_effnet_lite_weights`; no reference predictions ship with the "
              "packages). Linear probe: `bench/defaults.py`'s `linear_probe` row at the backbone's native size "
              "(target test = half of webcam, target unlabeled).", ""]
    (OUT / "backbones_lite.md").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--skip-probe", action="store_true", help="keep the stored rows' probe and rate figures")
    ap.add_argument("--rates-only", action="store_true", help="only the interleaved images/s, into the stored rows")
    ap.add_argument("--probe-only", action="store_true", help="keep the stored rows' other figures, add the probe")
    ap.add_argument("--store", default="/tmp/tl_bench_backbones_lite")
    a = ap.parse_args()
    os.environ["TL_HOME"] = a.store
    from tlcore.data.archive import read_images
    from tlcore.models.registry import BACKBONES

    path = OUT / "backbones_lite.json"
    if a.rates_only:
        stored = json.loads(path.read_text())
        load1 = round(os.getloadavg()[0], 1)
        rates = interleaved_rates(a.variants)
        for r in stored:
            if r["backbone"] in rates:
                r.update(rates[r["backbone"]], rates_load1=load1, rates_date=time.strftime("%Y-%m-%d %H:%M"))
        print(json.dumps(rates), flush=True)
        write_report(stored)
        return
    amazon, samples = None, []
    if not a.probe_only:
        amazon = read_images(DATA / "amazon.zip")
        samples = (list(amazon.samples) + list(read_images(DATA / "webcam.zip").samples))[:1000]
    stored = {r["backbone"]: r for r in (json.loads(path.read_text()) if path.exists() else [])}
    rows = [r for r in stored.values() if r["backbone"] not in a.variants]
    for name in a.variants:
        size = BACKBONES[name].default_image_size
        if a.probe_only:
            row = stored[name]
        else:
            kept = {k: v for k, v in stored.get(name, {}).items() if k.startswith(("probe", "rate"))}
            row = {**kept, "backbone": name, "size": size, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
                   "load1": round(os.getloadavg()[0], 1), "params_m": params_m(name)}
            row.update(extraction_seconds(name, samples, size))
            row.update(imagenet_check(name, amazon, size))
        if not a.skip_probe:
            row.update(linear_probe(name, size, a.store))
        print(json.dumps(row), flush=True)
        rows.append(row)
        rows.sort(key=lambda r: VARIANTS.index(r["backbone"]) if r["backbone"] in VARIANTS else 99)
        write_report(rows)


if __name__ == "__main__":
    main()
