"""Benchmark: the embedding inspector on CPU: extraction, projections (2k/10k/20k points), gap figures, and
whether adaptation closes the gap on a real pair.

    .venv/bin/python bench/embeddings.py [--sizes 2000 10000 20000] [--tsne-max 10000] [--no-extract]
                                         [--adapt coral dann] [--out bench/results/embeddings.md]

* Projections run on synthetic features (1280-D like EfficientNet-Lite0: 10 Gaussian classes, two domains).
  t-SNE reduces to 50 dims with PCA first (as ``tlcore.embeddings.project`` does) and is skipped above
  ``--tsne-max`` points (minutes on a CPU); UMAP timings include its first-call numba compilation only in
  the first size (noted).
* Extraction: EfficientNet-Lite0 (embedded weights) at 64 px on 2,000 images of the built-in digits demo.
* Adaptation: ``python -m tlcore train`` on MNIST -> USPS (../shared/data) with each strategy in ``--adapt``,
  reading ``embeddings.gap.before/after`` from the run's metrics.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SHARED = ROOT.parent / "shared"


def synthetic(n: int, d: int = 1280, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    centers = rng.normal(size=(10, d)) * 2
    dom = rng.integers(0, 2, n)
    x = centers[y] + rng.normal(size=(n, d)) + dom[:, None] * 0.5
    return x.astype(np.float32), y, dom


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_projections(sizes, tsne_max) -> list[dict]:
    from tlcore.embeddings import PROJECTIONS, project
    from tlcore.embeddings.gap import gap_figures

    rows = []
    for n in sizes:
        x, y, dom = synthetic(n)
        for method in PROJECTIONS:
            for dim in (2, 3) if method == "pca" else (2,):
                if method == "tsne" and n > tsne_max:
                    rows.append({"n": n, "what": f"{method} {dim}-D", "seconds": None, "note": f"skipped (> {tsne_max})"})
                    continue
                params = {"max_iter": 500} if method == "tsne" else {}
                secs, _ = timed(lambda: project(x, method, dim=dim, seed=0, **params))
                rows.append({"n": n, "what": f"{method} {dim}-D", "seconds": round(secs, 2), "note": ""})
                print(rows[-1], file=sys.stderr, flush=True)
        secs, _ = timed(lambda: gap_figures(x[dom == 0], x[dom == 1], y[dom == 0], y[dom == 1]))
        rows.append({"n": n, "what": "gap figures (MMD, PAD 5-fold, CORAL, centroids)", "seconds": round(secs, 2),
                     "note": "MMD/PAD/CORAL on <= 1000 points per domain"})
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def bench_extraction(n: int = 2000) -> dict:
    import torch

    from tlcore.data import load_domain
    from tlcore.embeddings.extract import model_features
    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier
    from tlcore.training.batches import encode_images

    dom = load_domain({"demo": "digits"}, "source", 0)
    samples = [dom.samples[i % len(dom)] for i in range(n)]  # the demo holds fewer: cycle through it
    bb = create_backbone("efficientnet_lite0", pretrained=True)
    model = Classifier(bb, 10)
    t_enc, ds = timed(lambda: encode_images(samples, np.zeros(len(samples), np.int64), 64, bb.mean, bb.std))
    with torch.no_grad():
        t_feat, feats = timed(lambda: model_features(model, ds, np.arange(len(ds)), 128, torch.device("cpu")))
    return {"n": len(samples), "encode_s": round(t_enc, 2), "features_s": round(t_feat, 2), "dim": int(feats.shape[1]),
            "threads": torch.get_num_threads()}


PAIRS = {  # name -> (demo config to start from, source spec, target spec)
    "mnist_usps": ("digits", {"path": str(SHARED / "data/digits_mnist_usps/mnist.zip")},
                   {"path": str(SHARED / "data/digits_mnist_usps/usps.zip")}),
    "books_kitchen": ("reviews", {"path": str(SHARED / "data/amazon_reviews/books.csv"), "text_column": "text",
                                  "label_column": "label"},
                      {"path": str(SHARED / "data/amazon_reviews/kitchen.csv"), "text_column": "text",
                       "label_column": "label"}),
}


def bench_adaptation(strategies, max_samples: int, epochs: int, pair: str = "mnist_usps", lr=None) -> list[dict]:
    demo, source, target = PAIRS[pair]
    out = []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TL_HOME": home, "TL_ALLOWED_ROOTS": str(SHARED)}
        for strat in strategies:
            cmd = [sys.executable, "-m", "tlcore", "train", "--demo", demo, "--quiet",
                   "--set", f"source={json.dumps(source)}", "--set", f"target={json.dumps(target)}",
                   "--set", f"strategy={strat}", "--set", f"max_samples_per_domain={max_samples}",
                   "--set", f"epochs={epochs}", *(["--set", f"lr={lr}"] if lr else [])]
            t0 = time.time()
            res = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
            if res.returncode != 0:
                out.append({"strategy": strat, "error": res.stderr[-500:]})
                continue
            rid = json.loads(res.stdout.strip().splitlines()[-1])["run_id"]
            show = subprocess.run([sys.executable, "-m", "tlcore", "show", rid, "--json"], env=env, cwd=ROOT, capture_output=True,
                                  text=True)
            m = json.loads(show.stdout.strip().splitlines()[-1])["metrics"]
            out.append({"pair": pair, "strategy": strat, "seconds": round(time.time() - t0, 1), "gap": m["embeddings"]["gap"],
                        "target_acc": m["target_test"]["accuracy"]})
            print(out[-1], file=sys.stderr, flush=True)
    return out


def write_md(path: Path, machine: dict, proj, extract, adapt, load) -> None:
    lines = ["# Embedding inspector on CPU", "",
             f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, torch "
             f"{machine['torch']}, {machine['date']}; 1-min load average at start {load:.2f} (shared machine).", "",
             "Command: `.venv/bin/python bench/embeddings.py`", "", "## Projections (synthetic 1280-D features)", "",
             "| points | projection | seconds | note |", "|---:|---|---:|---|"]
    for r in proj:
        lines.append(f"| {r['n']:,} | {r['what']} | {'' if r['seconds'] is None else r['seconds']} | {r['note']} |")
    lines += ["", "## Feature extraction", ""]
    if extract:
        lines.append(f"EfficientNet-Lite0 (embedded weights), 64 px, {extract['n']:,} digits-demo images, "
                     f"{extract['threads']} torch threads: encode {extract['encode_s']} s, features "
                     f"{extract['features_s']} s ({extract['dim']}-D).")
    else:
        lines.append("Not measured in this run (--no-extract).")
    lines += ["", "## Does adaptation close the gap? (source-val vs target-test features, before -> after)", ""]
    if adapt:
        lines += ["| pair | strategy | target acc | MMD² before → after | proxy A-distance before → after | "
                  "CORAL before → after | centroid before → after | seconds |", "|---|---|---:|---|---|---|---|---:|"]
        for r in adapt:
            if "error" in r:
                lines.append(f"| {r.get('pair')} | {r['strategy']} | failed: {r['error'][-120:]!r} | | | | | |")
                continue
            g = r["gap"]
            cell = lambda k: f"{g['before'][k]:.4g} → {g['after'][k]:.4g}"  # noqa: E731
            lines.append(f"| {r.get('pair')} | {r['strategy']} | {100 * r['target_acc']:.1f}% | {cell('mmd')} | {cell('a_distance')} | "
                         f"{cell('coral')} | {cell('centroid')} | {r['seconds']} |")
    else:
        lines.append("Not measured in this run.")
    lines += ["", "t-SNE cost grows faster than linearly; the dashboard runs t-SNE and UMAP in a background process "
              "(`python -m tlcore embeddings RUN_ID --method tsne`) and caches the result with the run. Runs store "
              "at most 2,000 points per domain (seeded, stratified by class)."]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 20000])
    ap.add_argument("--tsne-max", type=int, default=10000)
    ap.add_argument("--no-extract", action="store_true")
    ap.add_argument("--adapt", nargs="*", default=["coral", "dann"])
    ap.add_argument("--adapt-max", type=int, default=1000)
    ap.add_argument("--adapt-epochs", type=int, default=5)
    ap.add_argument("--pairs", nargs="+", default=["mnist_usps"], choices=sorted(PAIRS))
    ap.add_argument("--lr", type=float, default=None, help="learning rate of the adaptation runs (default: demo's)")
    ap.add_argument("--skip-projections", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench/results/embeddings.md"))
    a = ap.parse_args()
    from cli_speed import machine

    load = os.getloadavg()[0]
    proj = [] if a.skip_projections else bench_projections(a.sizes, a.tsne_max)
    extract = None if a.no_extract else bench_extraction()
    print(extract, file=sys.stderr)
    adapt = [r for p in a.pairs for r in bench_adaptation(a.adapt, a.adapt_max, a.adapt_epochs, p, a.lr)] \
        if a.adapt else []
    m = machine()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_md(out, m, proj, extract, adapt, load)
    out.with_suffix(".json").write_text(json.dumps({"machine": m, "load": load, "projections": proj,
                                                    "extraction": extract, "adaptation": adapt}, indent=1))
    print(json.dumps({"out": str(out), "adaptation": adapt}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
