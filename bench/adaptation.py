"""Adaptation benchmark (issue: transfer strategies): every unsupervised strategy on the four shared pairs.

    .venv/bin/python bench/adaptation.py [--seeds 0 1 2] [--max 600]

Runs bench/transfer.py with the settings below (unsupervised target, labeled_fraction 0), then writes
bench/results/adaptation.md: target accuracy mean +- std per strategy and pair, beside the published
figures of ../shared/data/README.md. Strategies that need target labels (multitask, tradaboost) or a
teacher run (distillation) are not part of the unsupervised table.
"""
from __future__ import annotations

import json
from pathlib import Path

from transfer import append_notes, run_bench, wrapper_args

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ["linear_probe", "fine_tuning", "dann", "cdan", "coral", "mmd", "mcc", "self_training",
              "instance_weighting"]
PUBLISHED = {
    "mnist_usps": "source only 75.2-82.1; DANN 77.1-91.7; CDAN 96.0 (LeNet from scratch, full data)",
    "usps_mnist": "source only 57.1-74.6; DANN 73.0-95.2; ADDA 98.3",
    "books_kitchen": "source only 77.8; DANN 77.9; DANN+mSDA 84.3 (bag of words)",
    "kitchen_books": "source only 70.8; DANN 70.9; best 71.8-76.9",
}


def main() -> None:
    a = wrapper_args(STRATEGIES, list(PUBLISHED), max="2000")
    out = ROOT / "bench" / "results" / "adaptation.md"
    frozen = json.dumps({"image": {"freeze_backbone": True}, "text": {"freeze_backbone": True}})
    run_bench(["--strategies", *a.strategies, "--pairs", *a.pairs, "--seeds", *a.seeds, "--max", a.max,
               "--out", str(out), "--set", "epochs=30", "--set", "bottleneck=256", "--image", "image_size=64",
               "--text", "max_length=128", "--params", frozen], a.store, a.report_only)
    lines = ["", "Published figures for orientation (different protocols and backbones, see ../shared/data/README.md):", ""]
    lines += [f"- {p.replace('_', ' -> ')}: {txt}" for p, txt in PUBLISHED.items() if p in a.pairs]
    lines += ["", "Settings (the frozen-feature regime): the pretrained backbone is frozen and its features cached "
              "(EfficientNet-Lite0 at 64 px; MiniLM-L6, max length 128); a 256-wide bottleneck (Linear + BatchNorm "
              "+ ReLU) and the head train, and every transfer loss acts on the bottleneck (TLlib's design). "
              "`fine_tuning` here is the source-only baseline of the same network (trade-off 0); `linear_probe` "
              "has no bottleneck. 30 epochs, AdamW lr 1e-3, batch 64 (images) / 32 (texts), early stopping on "
              "source validation (patience 5), target unlabeled, default trade-offs. Fine-tuning the backbone "
              "itself and the from-scratch baseline are in `baselines.md` (one seed: minutes per run on this CPU)."]
    append_notes(out, lines, ROOT / "bench" / "results" / "adaptation_findings.md")


if __name__ == "__main__":
    main()
