"""Benchmark of what target labels buy (issue 27): active selection (the engine's query strategies) against random
selection, 10/20/50/100 labelled target samples, 3 seeds, on the shared pairs.

    nice -n 10 .venv/bin/python bench/active_labels.py [--pairs mnist_usps amazon_webcam ...] [--seeds 0 1 2]
        [--budgets 10 20 50 100] [--max-minutes 25] [--store DIR]

Per pair, one ordinary run of the recommended default (``strategy: auto`` resolved to its recipe, target unlabelled)
goes through the product's pipeline (``run_experiment``): it is the "no labels" reference and it fills the engine's
frozen-feature cache (:class:`tlcore.training.features.FeatureCache`, EfficientNet-Lite0 at 224 px). Everything
after that runs on those cached features, so a point costs about a second instead of a pipeline run (and a query
needs no backbone):

* the head is the recipe's: a ``Linear(D, 256) + BatchNorm + ReLU`` bottleneck and a linear classifier, AdamW
  (lr 1e-3, weight decay 1e-4), batch 64 source + 64 target samples drawn from the whole target training pool,
  30 epochs of source batches, the last epoch kept; with no labels the loss is the unlabelled default's (source
  cross-entropy + MCC, :class:`tlcore.losses.mcc.MinimumClassConfusionLoss`), with labels the few-labels default's
  (``multitask``: source cross-entropy + cross-entropy on the labelled target samples of each batch). Left out: the
  2 augmented source views the default also caches.
* rounds as in ``python -m tlcore label-curve``: per method, labels are added up to each budget; an active method
  queries (:func:`tlcore.active.query.query`) the latest head of its chain over the still-unlabelled pool (its
  probabilities and 256-wide bottleneck features); random takes growing prefixes of one seeded order. The target's
  own labels answer. Accuracy is on the run's target test split, never queried.
* the data (subsample and split) is the seed-0 run's for every seed; seeds change the head's initialisation and
  batches and the seeded strategies (random, core-set's start, BADGE's k-means++), so the spread below is that of
  the selection and training, not of the split.

Also reported: the head with every target training sample labelled ("all"), for the gap the labels close, and a
variant that is not the default recipe: "(MCC + labels)", the MCC term kept beside the labelled cross-entropy.
Results: ``bench/results/active_labels.json`` (appended as points finish) and ``.md`` (rewritten).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "results"
JSON, MD = OUT / "active_labels.json", OUT / "active_labels.md"
OFFICE = {"amazon", "caltech10", "dslr", "webcam"}
EPOCHS, BATCH, LR, WD, BOTTLENECK = 30, 64, 1e-3, 1e-4, 256


def domain(name: str) -> dict:
    if name in ("mnist", "usps"):
        return {"path": str(DATA / "digits_mnist_usps" / f"{name}.zip")}
    if name in OFFICE:
        return {"path": str(DATA / "office_caltech10" / f"{name}.zip")}
    raise SystemExit(f"unknown image domain {name!r} (this benchmark runs image pairs)")


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        name = info.get("Model name", platform.processor()).strip()
        return f"{name}, {info.get('CPU(s)', '?').strip()} CPUs (lscpu), no GPU"
    except (OSError, subprocess.SubprocessError):
        return platform.processor() or "unknown"


def base_run(pair: str, store):
    """The pipeline run of the unlabelled default for ``pair`` (reused when the store has it)."""
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.recommend import resolve_auto

    src, tgt = pair.split("_")
    raw = {"name": f"active-labels base {pair}", "source": domain(src), "target": domain(tgt), "strategy": "auto",
           "seed": 0, "max_samples_per_domain": 2000 if src in ("mnist", "usps") else None}
    for rec in store.list(status="completed"):
        if rec.config.get("name") == raw["name"]:
            return rec.run_id
    # the recommended recipe itself (auto's first candidate), not auto's portfolio of several candidate runs
    return run_experiment(RunConfig.from_dict(resolve_auto(raw, gpu=False)), store).run_id


def cached_features(store, run_id: str) -> dict:
    """The base run's frozen features (the engine's cache) and labels of its four sets."""
    import numpy as np
    import torch

    from tlcore.config import RunConfig
    from tlcore.data.prepare import prepare_data
    from tlcore.training.device import precision_name
    from tlcore.training.features import FeatureCache

    cfg = RunConfig.from_dict(store.get(run_id).config)  # the resolved config the pipeline ran
    source, target, classes, split = prepare_data(cfg)
    cache = FeatureCache.for_run(store.root, cfg, source, target, split, precision_name(torch.device("cpu")))
    index = {c: i for i, c in enumerate(classes)}
    out = {"classes": classes}
    for name, dom, idx in (("source_train", source, split.source_train), ("target_train", target, split.target_train),
                           ("target_test", target, split.target_test)):
        feats = cache.lookup(name) if cache else None
        if feats is None:
            raise SystemExit(f"run {run_id}: no cached features for {name} (TL_FEATURE_CACHE off?)")
        out[name] = (feats, np.array([index[dom.labels[i]] for i in idx], dtype=np.int64))
    return out


def train_head(data: dict, labelled: list[int], seed: int, mcc_with_labels: bool = False):
    """The recipe's head on cached features; ``labelled``: target training rows whose labels it may use (none:
    MCC, the unlabelled default; some: multitask, the few-labels default; with ``mcc_with_labels`` the MCC term
    stays beside the labelled cross-entropy, a variant). Returns the trained (neck, head)."""
    import numpy as np
    import torch
    from torch import nn
    from torch.nn import functional as F

    from tlcore.losses.mcc import MinimumClassConfusionLoss

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    xs, ys = (torch.from_numpy(a) for a in data["source_train"])
    xt = torch.from_numpy(data["target_train"][0])
    yt = torch.full((len(xt),), -1, dtype=torch.long)
    if labelled:
        yt[labelled] = torch.from_numpy(data["target_train"][1][labelled])
    c = len(data["classes"])
    neck = nn.Sequential(nn.Linear(xs.shape[1], BOTTLENECK), nn.BatchNorm1d(BOTTLENECK), nn.ReLU())
    head = nn.Linear(BOTTLENECK, c)
    opt = torch.optim.AdamW([*neck.parameters(), *head.parameters()], lr=LR, weight_decay=WD)
    mcc = MinimumClassConfusionLoss(2.5)
    neck.train()
    for _ in range(EPOCHS):
        order = rng.permutation(len(xs))
        for start in range(0, len(xs), BATCH):
            bs = order[start:start + BATCH]
            bt = rng.integers(0, len(xt), len(bs))
            logits = head(neck(torch.cat([xs[bs], xt[bt]])))
            ls, lt = logits[:len(bs)], logits[len(bs):]
            loss = F.cross_entropy(ls, ys[bs])
            if labelled:
                m = yt[bt] >= 0
                if bool(m.any()):
                    loss = loss + F.cross_entropy(lt[m], yt[bt][m])
            if not labelled or mcc_with_labels:
                loss = loss + mcc(lt)
            opt.zero_grad()
            loss.backward()
            opt.step()
    neck.eval()
    return neck, head


def outputs(model, x):
    import numpy as np
    import torch

    neck, head = model
    with torch.no_grad():
        f = neck(torch.from_numpy(x))
        p = torch.softmax(head(f), 1)
    return p.numpy().astype(np.float64), f.numpy().astype(np.float64)


def accuracy(model, data) -> float:
    x, y = data["target_test"]
    return float((outputs(model, x)[0].argmax(1) == y).mean())


def curve(data: dict, method: str, budgets: list[int], seed: int, base, mcc_with_labels: bool = False) -> list[dict]:
    """One chain: labels added up to each budget, a head trained per budget."""
    import numpy as np

    from tlcore.active.query import query

    n = len(data["target_train"][0])
    order = np.random.default_rng(seed).permutation(n)
    labelled: list[int] = []
    model, rows = base, []
    for b in budgets:
        if b > n:
            break
        t0 = time.time()
        if method == "random":
            labelled = [int(i) for i in order[:b]]
        else:
            rest = np.array([i for i in range(n) if i not in set(labelled)])
            probs, feats = outputs(model, data["target_train"][0][rest])
            lab_feats = outputs(model, data["target_train"][0][labelled])[1] if labelled else None
            idx, _ = query(method, b - len(labelled), probs, feats, lab_feats, seed=seed)
            labelled = labelled + [int(rest[i]) for i in idx]
        model = train_head(data, labelled, seed, mcc_with_labels)
        rows.append({"method": method + (" (MCC + labels)" if mcc_with_labels else ""), "labels": b, "seed": seed, "accuracy": accuracy(model, data),
                     "seconds": round(time.time() - t0, 2)})
    return rows


def load() -> dict:
    try:
        return json.loads(JSON.read_text())
    except (OSError, ValueError):
        return {"rows": [], "refs": []}


def save(res: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    JSON.write_text(json.dumps(res, indent=1))
    MD.write_text(report(res))


def _ms(vals: list[float]) -> str:
    if not vals:
        return ""
    m = 100 * statistics.mean(vals)
    sd = 100 * statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{m:.1f} ± {sd:.1f}"


def _mean(vals):
    return 100 * statistics.mean(vals) if vals else math.nan


def report(res: dict) -> str:
    rows, refs = res["rows"], res["refs"]
    pairs = list(dict.fromkeys(r["pair"] for r in refs))
    lines = ["# What target labels buy: active selection vs random (issue 27)", "",
             f"Machine: {res.get('machine', '?')}. Written by `bench/active_labels.py` on {res.get('date', '?')} "
             f"(the protocol is its docstring). Target test accuracy (%), mean ± standard deviation over seeds "
             f"{sorted({r['seed'] for r in rows}) or '-'}; each point is a head trained on the engine's cached "
             "frozen EfficientNet-Lite0 features with the default recipe's loss (0 labels: MCC, the unlabelled "
             "default; k labels: multitask, the few-labels default), the labels chosen in rounds by the method "
             "and answered by the target's own labels.", ""]
    budgets = sorted({r["labels"] for r in rows})
    for pair in pairs:
        ref = [r for r in refs if r["pair"] == pair]
        pr = [r for r in rows if r["pair"] == pair]
        methods = list(dict.fromkeys(r["method"] for r in pr))
        lines += [f"## {pair.replace('_', ' -> ')}", "",
                  f"Pool (target training split): {ref[0]['pool']} samples; test split: {ref[0]['test']}. "
                  f"Unlabelled default through the pipeline (run {ref[0]['run_id']}): "
                  f"{100 * ref[0]['engine_default']:.1f} %.", "",
                  "| method | 0 labels | " + " | ".join(f"{b} labels" for b in budgets) + " | all labelled |",
                  "|---|---:|" + "---:|" * len(budgets) + "---:|"]
        zero, full = [r["head_0"] for r in ref], [r["head_all"] for r in ref]
        for m in methods:
            cells = [_ms([r["accuracy"] for r in pr if r["method"] == m and r["labels"] == b]) for b in budgets]
            lines.append(f"| {m} | {_ms(zero)} | " + " | ".join(cells) + f" | {_ms(full)} |")
        lines.append("")
        diffs = []
        for m in methods:
            ref_name = "random" + m[m.index(" ("):] if " (" in m else "random"  # a variant against its own random
            if m == ref_name:
                continue
            rand = {b: _mean([r["accuracy"] for r in pr if r["method"] == ref_name and r["labels"] == b])
                    for b in budgets}
            d = [f"{b}: {_mean([r['accuracy'] for r in pr if r['method'] == m and r['labels'] == b]) - rand[b]:+.1f}"
                 for b in budgets if not math.isnan(rand[b])]
            diffs.append(f"{m} ({', '.join(d)})")
        lines.append("Active minus random, points, per number of labels: " + "; ".join(diffs) + ".")
        gap = _mean(full) - _mean(zero)
        if 50 in budgets and gap > 0:
            closed = {m: (_mean([r["accuracy"] for r in pr if r["method"] == m and r["labels"] == 50]) - _mean(zero))
                      / gap for m in methods}
            lines.append("Share of the gap between 0 labels and all labelled closed with 50 labels: "
                         + ", ".join(f"{m} {100 * v:.0f} %" for m, v in closed.items()) + ".")
        lines.append("")
    lines += ["## Findings", "", res.get("findings", "(written after the run)"), ""]
    return "\n".join(lines)


def main() -> int:
    from tlcore.active.query import METHODS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", nargs="+", default=["mnist_usps", "amazon_webcam", "webcam_caltech10"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--budgets", nargs="+", type=int, default=[10, 20, 50, 100])
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--variant-methods", nargs="*", default=["random", "badge"],
                    help="also run these with the MCC term kept beside the labels (not the default recipe)")
    ap.add_argument("--max-minutes", type=float, default=25.0, help="start no new pair after this")
    ap.add_argument("--store", default=os.environ.get("TL_BENCH_STORE", "/tmp/tl_bench_active_labels"))
    a = ap.parse_args()
    os.environ["TL_HOME"] = a.store
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from tlcore.runs.store import RunStore

    torch.set_num_threads(1)  # tiny heads: a second thread only spins on a shared, loaded CPU
    t_start, store = time.time(), RunStore(a.store)
    res = {"rows": [], "refs": [], "machine": machine(), "date": time.strftime("%Y-%m-%d"),
           "findings": load().get("findings", "(written after the run)")}
    for pair in a.pairs:
        if (time.time() - t_start) / 60 > a.max_minutes:
            print(f"time cap reached; {pair} left out", flush=True)
            break
        t0 = time.time()
        run_id = base_run(pair, store)
        data = cached_features(store, run_id)
        m = store.metrics(run_id)
        print(f"{pair}: base run {run_id} ({time.time() - t0:.0f} s), default {m['target_test']['accuracy']:.3f}",
              flush=True)
        for seed in a.seeds:
            base = train_head(data, [], seed)
            everything = train_head(data, list(range(len(data["target_train"][0]))), seed)
            res["refs"].append({"pair": pair, "seed": seed, "run_id": run_id,
                                "engine_default": m["target_test"]["accuracy"], "head_0": accuracy(base, data),
                                "head_all": accuracy(everything, data), "pool": len(data["target_train"][0]),
                                "test": len(data["target_test"][0])})
            for method, variant in [(m, False) for m in a.methods] + [(m, True) for m in a.variant_methods]:
                for r in curve(data, method, a.budgets, seed, base, variant):
                    res["rows"].append({"pair": pair, **r})
                save(res)
            print(f"{pair} seed {seed}: done at {(time.time() - t_start) / 60:.1f} min", flush=True)
    save(res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
